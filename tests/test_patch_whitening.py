"""ZCA whitening of a k-means convolution's patches (neurosim.rules.patch_whitening): the estimate,
its trust threshold, the fold into kernels and bias, and the rule that uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurosim.models import MODELS
from neurosim.models.unsupervised_controls import PrototypeConv2d, unit_rows
from neurosim.rules.patch_kmeans import PatchKMeansRule
from neurosim.rules.patch_whitening import EPS_RATIO, SAMPLES_PER_DIM, PatchWhitening


def _correlated(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.tensor([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, 0.2, 0.1]])
    return torch.randn(n, 3, generator=generator) @ mixing.T + torch.tensor([1.0, -2.0, 0.5])


def test_whitened_patches_have_the_shrunk_identity_covariance_numpy_gives():
    """Golden from numpy: with S = U diag(l) U^T the sample covariance (1/N), the whitened
    patches' covariance is U diag(l / (l + eps)) U^T, eps = 0.1 mean(l)."""
    x = _correlated(400)
    whitening = PatchWhitening(3)
    whitening.observe(x[:200])
    whitening.observe(x[200:])
    data = x.double().numpy()
    values, vectors = np.linalg.eigh(np.cov(data.T, bias=True))
    eps = EPS_RATIO * values.mean()
    expected = vectors @ np.diag(values / (values + eps)) @ vectors.T
    z = whitening.whiten(x).double().numpy()
    assert np.allclose(z.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(np.cov(z.T, bias=True), expected, atol=1e-4)
    assert np.allclose(whitening.mean.numpy(), data.mean(axis=0), atol=1e-5)


def test_the_whitening_is_trusted_only_after_ten_patches_per_dimension():
    x = _correlated(SAMPLES_PER_DIM * 3)
    whitening = PatchWhitening(3)
    whitening.observe(x[:-1])
    assert not whitening.ready and torch.equal(whitening.matrix, torch.eye(3))
    whitening.observe(x[-1:])
    assert whitening.ready and not torch.equal(whitening.matrix, torch.eye(3))
    with pytest.raises(ValueError, match="4 values for a whitening of 3"):
        whitening.observe(torch.zeros(2, 4))


@pytest.mark.parametrize("centred", [False, True])
def test_the_folded_layer_answers_a_raw_patch_as_the_unit_centroid_answers_the_whitened_one(centred):
    """By hand at every position: unit(c) . W (P p - m) against the layer's output (P centres)."""
    torch.manual_seed(0)
    layer = PrototypeConv2d(2, 3, 3, padding=0, p=2.0, whiten=True, centred=centred)
    images = torch.rand(40, 2, 5, 5)
    patches = F.unfold(images, 3).transpose(1, 2).reshape(-1, 18)
    if centred:
        patches = patches - patches.mean(dim=1, keepdim=True)
    layer.whitening.observe(patches)
    assert layer.whitening.ready
    layer.weight.data = torch.randn(3, 2, 3, 3)
    out = layer(images[:2])  # [2, 3, 3, 3]
    raw = F.unfold(images[:2], 3).transpose(1, 2)  # [2, 9, 18]
    seen = raw - raw.mean(dim=2, keepdim=True) if centred else raw
    by_hand = layer.whitening.whiten(seen) @ unit_rows(layer.weight, 2.0).flatten(1).T  # [2, 9, 3]
    assert torch.allclose(out.flatten(2).transpose(1, 2), by_hand, atol=1e-4)


def test_the_rule_estimates_the_whitening_first_then_runs_k_means_in_the_whitened_space():
    torch.manual_seed(0)
    layer = PrototypeConv2d(1, 2, 2, padding=0, p=2.0, whiten=True)
    rule = PatchKMeansRule(patches_per_image=4, whiten_patches=True)
    optimiser = torch.optim.SGD([layer.weight, layer.taken], lr=1.0)
    images = torch.rand(10, 1, 3, 3)  # 4 patches of 4 values each: 40 patches make it trusted
    objective = rule.write_grads(layer, images[:9])
    assert layer.weight.grad is None and rule.last_updates == 0 and objective > 0
    assert not layer.whitening.ready
    rule.write_grads(layer, images[9:])
    assert layer.whitening.ready and float(layer.taken.sum()) == 0  # that batch only completed it
    rule.write_grads(layer, images)
    optimiser.step()
    assert float(layer.taken.sum()) == 40 and rule.last_updates == 40 * 4
    whitened = layer.whitening.whiten(F.unfold(images, 2).transpose(1, 2).reshape(-1, 4))
    inertia = torch.cdist(whitened, layer.weight.flatten(1)).min(dim=1).values.pow(2).sum()
    assert float(inertia) < float(((whitened - whitened.mean(0)) ** 2).sum())  # fits the whitened patches


def test_the_rule_refuses_to_whiten_a_layer_without_a_whitening():
    layer = PrototypeConv2d(1, 2, 2, padding=0, p=2.0)
    with pytest.raises(ValueError, match="needs a layer with a whitening"):
        PatchKMeansRule(whiten_patches=True).write_grads(layer, torch.rand(2, 1, 3, 3))


def test_the_cnn_control_whitens_by_default_and_shows_the_kernels_it_applies():
    model = MODELS.get("softhebb_cnn_kmeans")((1, 8, 8), 10, channels=(4, 6))
    assert model.conv1.whitening is not None and model.patch_rule["whiten_patches"]
    assert MODELS.card("softhebb_cnn_kmeans").fit_version >= 2
    model.conv1.whitening.observe(torch.rand(300, 25))
    model.conv1.weight.data = torch.randn(4, 1, 5, 5)
    assert torch.allclose(model.first_layer_weights(), model.conv1.applied()[0].flatten(1))
    plain = MODELS.get("softhebb_cnn_kmeans")((1, 8, 8), 10, channels=(4, 6), whiten_patches=False)
    assert plain.conv1.whitening is None and "conv1.whitening.matrix" not in plain.state_dict()


def test_a_block_whose_whitening_never_became_ready_fails_the_convergence_check():
    model = MODELS.get("softhebb_cnn_kmeans")((1, 8, 8), 10, channels=(4, 6))
    x = torch.rand(2, 1, 8, 8)
    verdict = model.convergence(x)
    assert verdict is not None and not verdict.learnt
    assert "conv1: whitening estimated on 0 of the 250 patches" in verdict.summary
    assert verdict.measures == {"conv1.whitening_patches": 0.0, "conv2.whitening_patches": 0.0}
    model.conv1.whitening.observe(torch.rand(250, 25))
    model.conv2.whitening.observe(torch.rand(360, 36))
    assert model.convergence(x) is None
