"""Robustness analysis: perturbations are deterministic and bounded, strength 0 is the clean
accuracy, noise hurts, and a model without an input gradient gets no PGD curve."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.robustness import (
    GAUSSIAN_SIGMAS,
    PGD_EPSILONS,
    analyse_robustness,
    gaussian_noise,
    has_input_gradient,
    occlude,
    robustness_curves,
    robustness_summary,
    salt_and_pepper,
)
from neurosim.models import MODELS
from neurosim.models.base import NeurosimModel, PlanStep

from .conftest import clean_accuracy, run_cli


def test_perturbations_are_deterministic_bounded_and_of_the_asked_strength():
    x = torch.rand(200, 1, 8, 8)
    noisy = gaussian_noise(x, 0.3)
    assert torch.equal(noisy, gaussian_noise(x, 0.3)) and noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(gaussian_noise(x, 0.0), x)
    flipped = salt_and_pepper(x, 0.2)
    changed = (flipped != x).float().mean()
    assert changed == pytest.approx(0.2, abs=0.02)
    assert set(flipped[flipped != x].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(salt_and_pepper(x, 0.0), x)
    blanked = occlude(torch.ones(50, 1, 10, 10), 0.3)
    assert torch.equal((blanked == 0).sum((1, 2, 3)), torch.full((50,), 9))  # one 3x3 square each
    assert torch.equal(blanked, occlude(torch.ones(50, 1, 10, 10), 0.3))
    assert torch.equal(occlude(x, 0.0), x)


class Thresholded(NeurosimModel):
    """Binarises its input before a linear readout: no gradient reaches the input."""

    def __init__(self):
        super().__init__()
        self.readout = nn.Linear(64, 10)

    def forward(self, x):
        return self.readout((x.flatten(1) > 0.5).float())

    def learning_plan(self):
        return (PlanStep("readout", self.readout, "backprop"),)

    def probe_points(self):
        return {"readout": self.readout}

    def first_layer_weights(self):
        return self.readout.weight


def test_a_model_that_thresholds_its_input_has_no_input_gradient_and_a_linear_model_has_one():
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    torch.manual_seed(0)
    assert has_input_gradient(MODELS.get("linear")((1, 8, 8), 10), x, y)
    assert not has_input_gradient(Thresholded(), x, y)
    curves = robustness_curves(Thresholded(), x, y)
    assert np.isnan(curves["pgd"]).all() and np.isnan(curves["fgsm"]).all()
    assert not np.isnan(curves["gaussian"]).any() and not np.isnan(curves["occlusion"]).any()


def test_analysis_of_a_stored_run(stored_perceptron_run):
    run_dir = stored_perceptron_run
    results = analyse_robustness(run_dir, n_stimuli=300)
    accuracy = results.accuracy
    assert accuracy.dims == ("perturbation", "strength_index", "model", "seed")
    # Strength 0 goes through each perturbation and must give the unperturbed accuracy.
    clean = accuracy.sel(perturbation="gaussian", strength_index=0).copy(data=clean_accuracy(run_dir, 300))
    for perturbation in ("salt_pepper", "gaussian", "occlusion", "fgsm", "pgd"):
        np.testing.assert_array_equal(accuracy.sel(perturbation=perturbation, strength_index=0), clean)
    assert (accuracy.sel(perturbation="gaussian", strength_index=4) < clean).all()  # sigma 0.5 hurts
    pgd = accuracy.sel(perturbation="pgd")
    assert (pgd.sel(strength_index=len(PGD_EPSILONS) - 1) < 0.2).all()  # both decide by linear scores
    fgsm = accuracy.sel(perturbation="fgsm", strength_index=len(PGD_EPSILONS) - 1)
    assert (pgd.sel(strength_index=len(PGD_EPSILONS) - 1) <= fgsm).all()  # PGD is the stronger attack
    assert (accuracy.sel(perturbation="occlusion", strength_index=4) < clean).all()
    assert results.attrs["no_input_gradient"] == ""
    (cell,) = robustness_summary(results, results, "perceptron", "linear")
    gaussian = results.accuracy.sel(perturbation="gaussian").values  # [sigma, model, seed]
    # The area by hand: trapezoid over sigma = 0, 0.1, 0.2, 0.3, 0.5, divided by 0.5, per seed.
    by_hand = [(np.diff(GAUSSIAN_SIGMAS) * (g[1:] + g[:-1]) / 2).sum() / 0.5 for g in gaussian[:, 0, :].T]
    assert cell.column == "noise robustness (AUC, Gaussian)"
    assert cell.bio.startswith(f"{np.mean(by_hand):.4f}")
    process = run_cli("analyse", str(run_dir), "--analyses", "robustness", "--stimuli", "300")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert "Robustness (the first 300 test images of digits" in report.read_text()
    assert (report.parent / "figures" / "robustness_perceptron_linear.png").stat().st_size > 1000


def test_members_that_own_loss_pgd_does_not_break_are_named_in_the_section(monkeypatch):
    """Golden, from the Fashion-MNIST perceptron run: PGD on the perceptron's own loss leaves 0.60
    of its clean 0.80 at eps 0.2 (its criterion has no gradient where it is right); softmax
    regression falls to 0. Only the perceptron is named, with its numbers; no gradient (NaN) is
    not named."""
    import xarray as xr

    from neurosim.analysis.robustness import robustness_section, unbroken_by_own_loss

    pgd = np.array([[0.798, 0.679, 0.599], [0.857, 0.528, 0.0], [np.nan, np.nan, np.nan]])
    accuracy = np.stack([np.ones_like(pgd), pgd])[:, :, :, None]  # perturbation, model, strength, seed
    stored = xr.Dataset(
        {"accuracy": (("perturbation", "model", "strength_index", "seed"), accuracy)},
        coords={"perturbation": ["gaussian", "pgd"], "model": ["perceptron", "linear", "rosenblatt"]},
        attrs={"analysis": "robustness", "stimuli": "test images"},
    ).transpose("perturbation", "strength_index", "model", "seed")
    assert unbroken_by_own_loss(stored) == {"perceptron": (0.798, 0.599)}

    class Page:
        def __init__(self):
            self.texts = []

        def heading(self, text, level=2):
            self.texts.append(text)

        def paragraph(self, text):
            self.texts.append(text)

        def figure(self, *args, **kwargs):
            pass

    import neurosim.analysis.strength_curves as curves

    monkeypatch.setattr(curves, "figure_per_group", lambda *args, **kwargs: None)  # no figures here
    page = Page()
    robustness_section(page, stored, stored)
    text = " ".join(page.texts)
    assert "does not break perceptron at the largest eps (perceptron keeps 0.60 of its clean 0.80)" in text
    assert "linear keeps" not in text and "rosenblatt keeps" not in text
