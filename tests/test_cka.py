"""CKA invariants (Kornblith et al. 2019) and the debiased estimator (Nguyen et al. 2021)."""

import math

import pytest
import torch

from neurosim.analysis.cka import cka, cka_matrix


def _data(n=200, p=30, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, p, generator=generator, dtype=torch.float64)


def _gram_cka(x, y, debiased):
    """Reference with explicit [n, n] kernels (the textbook definitions)."""
    n = x.shape[0]

    def hsic(k, m):
        if not debiased:
            h = torch.eye(n, dtype=k.dtype) - 1.0 / n
            return torch.trace(k @ h @ m @ h) / (n - 1) ** 2
        k, m = k.clone(), m.clone()
        k.fill_diagonal_(0.0)
        m.fill_diagonal_(0.0)
        ones = torch.ones(n, dtype=k.dtype)
        return (
            torch.trace(k @ m)
            + (ones @ k @ ones) * (ones @ m @ ones) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (ones @ k @ m @ ones)
        ) / (n * (n - 3))

    x, y = x - x.mean(0), y - y.mean(0)
    k, m = x @ x.T, y @ y.T
    return float(hsic(k, m) / torch.sqrt(hsic(k, k) * hsic(m, m)))


@pytest.mark.parametrize("kind", ["linear", "debiased"])
def test_cka_of_a_layer_with_itself_is_one(kind):
    x = _data()
    assert cka(x, x, kind) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["linear", "debiased"])
def test_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling(kind):
    x = _data()
    y = torch.tanh(x @ _data(30, 20, seed=1)) + 0.5 * _data(200, 20, seed=2)
    q, _ = torch.linalg.qr(_data(20, 20, seed=3))
    reference = cka(x, y, kind)
    assert 0.1 < reference < 0.95  # related but not identical layers
    assert cka(x, 7.5 * (y @ q), kind) == pytest.approx(reference, abs=1e-10)
    assert cka(0.01 * x + 3.0, y, kind) == pytest.approx(reference, abs=1e-10)  # shifts are centred out


@pytest.mark.parametrize("kind", ["linear", "debiased"])
@pytest.mark.parametrize(("n", "p", "q"), [(40, 12, 7), (10, 50, 60)])  # feature path, kernel path
def test_feature_space_formulas_equal_the_explicit_kernel_definitions(kind, n, p, q):
    x = _data(n, p, seed=4)
    y = _data(n, q, seed=5) + x[:, :q] if q <= p else torch.cat([x, _data(n, q - p, seed=5)], 1)
    assert cka(x, y, kind) == pytest.approx(_gram_cka(x, y, kind == "debiased"), abs=1e-10)


def test_debiased_cka_of_independent_layers_is_near_zero_while_linear_cka_is_not():
    x, y = _data(300, 200, seed=6), _data(300, 200, seed=7)
    assert abs(cka(x, y, "debiased")) < 0.02
    assert cka(x, y, "linear") > 0.3  # the finite-sample bias the debiased estimator removes


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="valid choices: linear, debiased"):
        cka(_data(), _data(), "rbf")
    with pytest.raises(ValueError, match="same stimuli"):
        cka(_data(10, 3), _data(12, 3))
    assert math.isnan(cka(torch.ones(10, 3), _data(10, 3)))


@pytest.mark.parametrize("kind", ["linear", "debiased"])
def test_a_layer_map_reuses_kernels_and_gives_the_pairwise_numbers(kind):
    generator = torch.Generator().manual_seed(7)
    # Wide (p >> n: kernel path), narrow (feature path) and mixed pairs.
    layers = [torch.randn(12, 300, generator=generator), torch.randn(12, 5, generator=generator)]
    others = [
        torch.randn(12, 3, 4, 40, generator=generator),
        layers[1] * 2.0,
        torch.randn(12, 2, generator=generator),
    ]
    matrix = cka_matrix(layers, others, (kind,))[kind]
    for i, x in enumerate(layers):
        for j, y in enumerate(others):
            assert matrix[i][j] == pytest.approx(cka(x, y, kind), abs=1e-12)
    assert matrix[1][1] == pytest.approx(1.0, abs=1e-12)
