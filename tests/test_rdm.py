"""RDM invariants (through rsatoolbox): identical data correlates 1, affine changes of a pattern
leave the correlation-distance RDM unchanged, independent data correlates near 0, silent patterns
are defined, and the bootstrap interval brackets the estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.analysis.rdm import condition_indices, layer_rdms, rdm_similarity


def _activity(seed: int, n: int = 100, units: int = 40) -> torch.Tensor:
    return torch.randn(n, units, generator=torch.Generator().manual_seed(seed))


CONDITIONS = np.arange(60)


def test_the_rdm_of_identical_data_correlates_one_with_a_degenerate_interval():
    rdms = layer_rdms({"a": _activity(0)}, CONDITIONS)
    estimate, low, high = rdm_similarity(
        rdms, layer_rdms({"b": _activity(0).clone()}, CONDITIONS), n_bootstrap=20
    )
    assert estimate[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert low[0, 0] == pytest.approx(1.0, abs=1e-12) and high[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_correlation_distance_ignores_each_patterns_offset_and_scale():
    x = _activity(1)
    scaled = x * torch.linspace(0.5, 3.0, len(x))[:, None] + torch.linspace(-2, 2, len(x))[:, None]
    first, second = layer_rdms({"x": x}, CONDITIONS), layer_rdms({"y": scaled}, CONDITIONS)
    np.testing.assert_allclose(first.get_vectors(), second.get_vectors(), atol=1e-12)
    # ... but not a change of the geometry: a random non-linear map of the units lowers it.
    warped = layer_rdms({"z": torch.tanh(3 * x) ** 3}, CONDITIONS)
    assert rdm_similarity(first, warped, n_bootstrap=5)[0][0, 0] < 0.99


def test_independent_data_correlates_near_zero_and_the_interval_brackets_it():
    estimate, low, high = rdm_similarity(
        layer_rdms({"a": _activity(2)}, CONDITIONS),
        layer_rdms({"b": _activity(3)}, CONDITIONS),
        n_bootstrap=200,
    )
    assert abs(estimate[0, 0]) < 0.1
    assert low[0, 0] < estimate[0, 0] < high[0, 0] and low[0, 0] < 0 < high[0, 0]


def test_layer_by_layer_map_and_silent_patterns():
    x = _activity(4)
    silent = x.clone()
    silent[5] = 0.0  # a stimulus that evokes nothing in this layer
    rdms = layer_rdms({"x": x, "silent": silent, "other": _activity(5)}, CONDITIONS)
    assert rdms.n_rdm == 3 and rdms.rdm_descriptors["layer"] == ["x", "silent", "other"]
    vectors = rdms.get_vectors()
    assert np.isfinite(vectors).all()
    matrix = rdms.get_matrices()[1]
    assert np.all(np.delete(matrix[5], 5) == 1.0)  # uncorrelated with every other stimulus
    estimate, _, _ = rdm_similarity(rdms, rdms, n_bootstrap=5)
    np.testing.assert_allclose(np.diag(estimate), 1.0, atol=1e-12)
    assert estimate.shape == (3, 3) and estimate[0, 1] > 0.9 and abs(estimate[0, 2]) < 0.15


def test_conditions_are_the_first_of_each_class_in_class_order():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 2])
    np.testing.assert_array_equal(condition_indices(labels, per_class=2), [1, 3, 2, 5, 0, 4])
