"""Black-box (Square Attack) and transfer attacks: a certified radius the attack cannot beat, a
margin it does break, models without gradients, and the analysis of a stored run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.black_box import (
    analyse_attacks,
    image_tiling,
    square_attack,
    square_attack_accuracy,
    transfer_accuracy,
    transfer_sources,
)
from neurosim.extras import missing
from tests.conftest import clean_accuracy, run_cli

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
    assert square_attack_accuracy(model, x, y, eps, max_queries=200) == 1.0


@needs_art
def test_square_attack_breaks_what_a_large_enough_budget_allows_even_without_gradients():
    model, x, y, _ = _problem()
    w, b = model.w, model.b
    radius = float(((x @ w - b).abs() / w.abs().sum()).max())  # every image breakable at this eps
    for rounded in (False, True):
        attacked = TwoClassLinear(w, b, round_input=rounded)
        assert square_attack_accuracy(attacked, x, y, min(0.25, 2.5 * radius), max_queries=300) <= 0.05
    # A transfer from the differentiable twin reaches the rounded model as well.
    rounded = TwoClassLinear(w, b, round_input=True)
    assert transfer_accuracy(rounded, model, x, y, min(0.25, 2.5 * radius)) <= 0.1


def test_vectors_are_attacked_as_images_when_they_tile():
    assert image_tiling(64) == (8, 8) and image_tiling(784) == (28, 28) and image_tiling(100) == (10, 10)
    for size in (2, 13, 16, 60):  # XOR; a prime; first windows as large as the image (4 x 4, 6 x 10)
        with pytest.raises(ValueError, match="image-like"):
            image_tiling(size)


def test_transfer_sources_pair_each_bio_model_with_its_twin():
    assert transfer_sources({"snn_mlp_mlp": ["snn_mlp", "mlp"]}) == {"snn_mlp": "mlp", "mlp": "snn_mlp"}
    sources = transfer_sources({"diehl_cook_mlp_kmeans": ["diehl_cook", "mlp_dc", "kmeans"]})
    assert sources == {"diehl_cook": "mlp_dc", "mlp_dc": "diehl_cook", "kmeans": "diehl_cook"}


@pytest.mark.slow
@needs_art
def test_attacks_analysis_of_a_stored_run(stored_perceptron_run):
    result = analyse_attacks(stored_perceptron_run, n_stimuli=60)
    accuracy = result.accuracy
    assert accuracy.dims == ("perturbation", "strength_index", "model", "seed")
    assert list(result.perturbation.values) == ["square", "transfer"]
    assert result.attrs["transfer_source__perceptron"] == "linear"
    assert result.attrs["n_stimuli"] == 60
    values = accuracy.values
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    # Strength 0: the unperturbed accuracy, by definition for the Square Attack and through the
    # source's PGD at budget 0 for transfer; the largest budget breaks the linear model.
    clean = clean_accuracy(stored_perceptron_run, 60)
    np.testing.assert_array_equal(values[0, 0], clean)
    np.testing.assert_array_equal(values[1, 0], clean)
    assert float(accuracy.sel(perturbation="square", model="linear").isel(strength_index=-1).mean()) < 0.5
    process = run_cli("report", str(stored_perceptron_run))
    report = Path(process.stdout.strip().splitlines()[-1])
    assert "Black-box and transfer attacks" in report.read_text()


def test_square_attack_accuracy_never_repairs_a_misclassified_image(monkeypatch):
    import neurosim.analysis.black_box as black_box

    class Threshold(torch.nn.Module):
        """Class 1 when the first value exceeds 0.5, else class 0."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            first = x.flatten(1)[:, :1]
            return torch.cat([0.5 - first, first - 0.5], dim=1)

    x = torch.tensor([[0.4, 0.0], [0.9, 0.0], [0.1, 0.0]])
    y = torch.tensor([1, 1, 0])  # image 0 is misclassified as it is
    # An "attack" that moves image 0 across the threshold (now correct) and breaks image 2.
    moved = torch.tensor([[0.6, 0.0], [0.9, 0.0], [0.7, 0.0]])
    monkeypatch.setattr(black_box, "square_attack", lambda *args, **kwargs: moved)
    assert black_box.square_attack_accuracy(Threshold(), x, y, 0.2) == pytest.approx(1 / 3)
