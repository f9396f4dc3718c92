"""The Square Attack and transfer sources of the attack suite: a certified radius the attack cannot
beat, a margin it does break, models without gradients; the retired ``attacks`` study."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neurosim.analysis.attacks import adversarial_examples
from neurosim.analysis.black_box import image_tiling, square_attack, transfer_sources
from neurosim.evaluation import accuracy, predict
from neurosim.extras import missing

needs_art = pytest.mark.skipif(missing("attacks") is not None, reason="needs the attacks extra")


class TwoClassLinear(nn.Module):
    """Scores ``(-w.x + b, w.x - b)``: class 1 when ``w.x > b``. On ``x`` the margin ``|w.x - b|`` can
    be closed by an L-infinity perturbation only if ``eps ||w||_1 >= |w.x - b|``."""

    def __init__(self, w: torch.Tensor, b: float, round_input: bool = False) -> None:
        super().__init__()
        self.w, self.b, self.round_input = w, b, round_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.round_input:  # no gradient reaches the input
            x = (x * 8).round() / 8
        score = x @ self.w - self.b
        return torch.stack([-score, score], dim=1)

    def loss(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(scores, y)


def _problem(n: int = 100, d: int = 64) -> tuple[TwoClassLinear, torch.Tensor, torch.Tensor, float]:
    generator = torch.Generator().manual_seed(0)
    w = torch.rand(d, generator=generator) + 0.5
    x = torch.rand(n, d, generator=generator) * 0.5 + 0.25
    b = float((x @ w).median())
    x = x[(x @ w - b).abs() / w.sum() > 0.02]  # no image on the boundary
    model = TwoClassLinear(w, b)
    y = model(x).argmax(1)
    margins = (x @ w - b).abs()
    return model, x, y, float(margins.min() / w.abs().sum())


@needs_art
def test_square_attack_stays_in_the_ball_and_cannot_beat_the_certified_radius():
    model, x, y, certified = _problem()
    eps = 0.9 * certified  # below every image's smallest L-infinity distance to the boundary
    adversarial = square_attack(model, x, y, eps, max_queries=200)
    assert float((adversarial - x).abs().max()) <= eps + 1e-6
    assert float(adversarial.min()) >= 0.0 and float(adversarial.max()) <= 1.0
    assert bool((predict(model, adversarial) == y).all())


@needs_art
def test_square_attack_breaks_what_a_large_enough_budget_allows_even_without_gradients():
    model, x, y, _ = _problem()
    w, b = model.w, model.b
    radius = float(((x @ w - b).abs() / w.abs().sum()).max())  # every image breakable at this eps
    for rounded in (False, True):
        attacked = TwoClassLinear(w, b, round_input=rounded)
        adversarial = square_attack(attacked, x, y, min(0.25, 2.5 * radius), max_queries=300)
        assert accuracy(attacked, adversarial, y) <= 0.05
    # A transfer from the differentiable twin reaches the rounded model as well.
    rounded = TwoClassLinear(w, b, round_input=True)
    crafted = adversarial_examples(model, x, y, min(0.25, 2.5 * radius), "pgd")
    assert accuracy(rounded, crafted, y) <= 0.1


def test_vectors_are_attacked_as_images_when_they_tile():
    assert image_tiling(64) == (8, 8) and image_tiling(784) == (28, 28) and image_tiling(100) == (10, 10)
    for size in (2, 13, 16, 60):  # XOR; a prime; first windows as large as the image (4 x 4, 6 x 10)
        with pytest.raises(ValueError, match="image-like"):
            image_tiling(size)


def test_transfer_sources_pair_each_bio_model_with_its_twin():
    assert transfer_sources({"snn_mlp_mlp": ["snn_mlp", "mlp"]}) == {"snn_mlp": "mlp", "mlp": "snn_mlp"}
    sources = transfer_sources({"diehl_cook_mlp_kmeans": ["diehl_cook", "mlp_dc", "kmeans"]})
    assert sources == {"diehl_cook": "mlp_dc", "mlp_dc": "diehl_cook", "kmeans": "diehl_cook"}


def test_the_retired_attacks_study_is_named_with_its_replacement_not_run(tmp_path):
    """``--analyses attacks`` stops at once with what replaces it, and no study module defines it."""
    from neurosim.analysis.registry import ANALYSES, RETIRED
    from neurosim.cli import main

    assert "attacks" in RETIRED and "attacks" not in ANALYSES and "attack_suite" in ANALYSES
    assert "attack_suite" in RETIRED["attacks"]
    assert main(["analyse", str(tmp_path), "--analyses", "attacks"]) == 2
