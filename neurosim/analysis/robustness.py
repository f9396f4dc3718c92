"""Robustness analysis of a stored run: test accuracy against perturbation strength, for every
member and seed, on the same perturbed images.

Perturbations (images in [0, 1], results clipped back into that range):

* ``gaussian``: ``x + sigma z``, ``z ~ N(0, 1)`` per pixel, at :data:`GAUSSIAN_SIGMAS`;
* ``salt_pepper``: a fraction ``p`` of pixels set to 0 or 1 (equally likely), at
  :data:`SALT_PEPPER_FRACTIONS`;
* ``occlusion``: a square of side ``f W`` (``f`` at :data:`OCCLUSION_FRACTIONS` of the image width)
  set to 0 at a random position per image (:func:`occlude`);
* ``fgsm``: the fast gradient sign method (one step of ``eps sign(grad)``) at :data:`PGD_EPSILONS`;
* ``pgd``: L-infinity PGD on the model's own loss (:func:`neurosim.analysis.attacks.pgd_linf`,
  40 steps, one random start) at :data:`PGD_EPSILONS`. A model whose loss has no gradient with
  respect to its input (one that thresholds or discretises its input before any differentiable
  step) cannot be attacked this way: its FGSM and PGD entries are NaN and the attribute
  ``no_input_gradient`` names it, rather than reporting the random start as robustness. (The
  perceptrons are attackable: they decide by the argmax of linear scores.)

The random perturbations use one fixed generator (seed 0) per perturbation and strength, so every
model and seed sees the same noisy images. Stimuli: the first ``n_stimuli`` test images.

Stored as ``analyses/robustness.nc``: ``accuracy`` with dims ``(perturbation, strength_index,
model, seed)`` and coordinate ``strength (perturbation, strength_index)`` (sigma, fraction of
pixels, fraction of the width, eps, eps; units: pixel intensity, 1, 1, pixel intensity, pixel
intensity). Registered as :data:`ANALYSIS` (report section: one figure of curves per pair; summary
cell: the area under the Gaussian-noise curve); stored models are loaded inside the compute
function only (:mod:`neurosim.analysis.study`). The strongest-attack evaluation is the attack suite
(:mod:`neurosim.analysis.attack_study`); the PGD curve here is one attack on the model's own loss.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.attacks import accuracy_under_attack
from neurosim.analysis.stored_run import stored_analysis
from neurosim.analysis.strength_curves import (
    Strengths,
    accuracy_curve,
    analyse_strength_curves,
    area_cell,
    perturbed_accuracy,
    strength_curves_section,
)
from neurosim.analysis.study import Analysis, Page, SummaryCell

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

GAUSSIAN_SIGMAS = (0.0, 0.1, 0.2, 0.3, 0.5)
SALT_PEPPER_FRACTIONS = (0.0, 0.05, 0.1, 0.2, 0.3)
OCCLUSION_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4)
PGD_EPSILONS = (0.0, 0.01, 0.03, 0.1, 0.2)
STRENGTHS = {
    "gaussian": GAUSSIAN_SIGMAS,
    "salt_pepper": SALT_PEPPER_FRACTIONS,
    "occlusion": OCCLUSION_FRACTIONS,
    "fgsm": PGD_EPSILONS,
    "pgd": PGD_EPSILONS,
}
#: The perturbations that need the gradient of the model's loss with respect to its input.
GRADIENT_ATTACKS = ("fgsm", "pgd")


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """``clip(x + sigma z)`` with ``z ~ N(0, 1)`` from a fixed generator."""
    generator = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=generator)).clamp(0.0, 1.0)


def salt_and_pepper(x: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """A ``fraction`` of pixels (chosen independently) set to 0 or 1 with equal probability."""
    generator = torch.Generator().manual_seed(seed)
    hit = torch.rand(x.shape, generator=generator) < fraction
    value = (torch.rand(x.shape, generator=generator) < 0.5).to(x.dtype)
    return torch.where(hit, value, x)


def occlude(x: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """A square of side ``round(fraction * W)`` pixels set to 0 (background) in each image ``[N, C,
    H, W]``, at a position drawn uniformly (whole square inside the image) from a fixed generator."""
    n, _, height, width = x.shape
    side = min(round(fraction * width), height, width)
    occluded = x.clone()
    if side == 0:
        return occluded
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(height - side + 1, (n,), generator=generator).tolist()
    cols = torch.randint(width - side + 1, (n,), generator=generator).tolist()
    for image, row, col in zip(occluded, rows, cols, strict=True):
        image[:, row : row + side, col : col + side] = 0.0
    return occluded


def has_input_gradient(model: NeurosimModel, x: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether the model's loss changes with its input to first order (on a few images)."""
    probe = x[:16].clone().requires_grad_(True)
    loss = model.loss(model(probe), y[:16])
    if not loss.requires_grad:
        return False
    (gradient,) = torch.autograd.grad(loss, probe, allow_unused=True)
    return gradient is not None and bool(gradient.abs().sum() > 0)


def robustness_curves(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, strengths: Strengths = STRENGTHS
) -> dict[str, list[float]]:
    """Accuracy at every strength of every perturbation (NaN for the gradient attacks of a model
    without an input gradient)."""
    curves = {
        name: accuracy_curve(strengths[name], perturbed_accuracy(model, x, y, perturb))
        for name, perturb in (
            ("gaussian", gaussian_noise),
            ("salt_pepper", salt_and_pepper),
            ("occlusion", occlude),
        )
    }
    attackable = has_input_gradient(model, x, y)
    for attack in GRADIENT_ATTACKS:
        if attackable:
            attacked = partial(accuracy_under_attack, model, x, y, attack=attack)
            curves[attack] = accuracy_curve(strengths[attack], attacked)
        else:
            curves[attack] = [float("nan")] * len(strengths[attack])
    return curves


def analyse_robustness(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Compute the robustness analysis of a finished run and store it; returns the Dataset."""

    def no_input_gradient(curves: dict[str, dict[str, list[float]]]) -> dict:
        names = [member for member, curve in curves.items() if all(np.isnan(curve["pgd"]))]
        return {"no_input_gradient": ",".join(sorted(names))}

    return analyse_strength_curves(
        run_dir, "robustness", lambda task: STRENGTHS, robustness_curves, n_stimuli, no_input_gradient
    )


def stored_robustness(run_dir: str | Path) -> xr.Dataset | None:
    """The stored robustness analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "robustness")


#: PGD on a model's own loss that leaves it above this fraction of its clean accuracy at the
#: largest eps (0.2 of the pixel range, which breaks every differentiable model of the shipped
#: comparisons) is named in the section: a loss that is flat where the model is right gives PGD
#: no gradient (:func:`unbroken_by_own_loss`).
UNBROKEN_FRACTION = 0.5


def unbroken_by_own_loss(robustness: xr.Dataset) -> dict[str, tuple[float, float]]:
    """Members whose mean PGD accuracy at the largest eps is above :data:`UNBROKEN_FRACTION` of
    their clean accuracy: ``{member: (clean, at the largest eps)}``. On Fashion-MNIST the
    perceptron keeps 0.60 of 0.80 (its criterion ``max(0, -margin)`` has no gradient on the images
    it classifies right) where the attack suite's margin PGD breaks it fully."""
    if "pgd" not in robustness.perturbation.values:
        return {}
    pgd = robustness.accuracy.sel(perturbation="pgd").mean("seed")
    flagged = {}
    for member in robustness.model.values.tolist():
        clean, last = (float(v) for v in pgd.sel(model=member).values[[0, -1]])
        if last == last and last > UNBROKEN_FRACTION * clean:  # NaN: no input gradient
            flagged[member] = (clean, last)
    return flagged


def robustness_section(page: Page, robustness: xr.Dataset, results: xr.Dataset) -> None:
    """The report's robustness curves (``results``, the run's results, are not needed)."""
    note = robustness.attrs.get("no_input_gradient", "")
    unbroken = unbroken_by_own_loss(robustness)
    warning = "; ".join(
        f"{m} keeps {last:.2f} of its clean {clean:.2f}" for m, (clean, last) in unbroken.items()
    )
    strength_curves_section(
        page,
        robustness,
        "Robustness",
        "Gaussian pixel noise, salt-and-pepper and an occluding square at a random position (fixed "
        "draws, the same images for every model), and FGSM and L-infinity PGD on each model's own "
        "loss (PGD: 40 steps, one random start)."
        + (f" No input gradient, so no FGSM or PGD curve: {note}." if note else "")
        + (
            f" WARNING: PGD on its own loss does not break {', '.join(unbroken)} at the largest eps "
            f"({warning}): a loss that is flat where the model is right gives the attack no "
            "gradient, so these FGSM and PGD curves overstate its robustness; read the attack "
            "suite's strongest attack (--analyses attack_suite), which includes PGD on the margin."
            if unbroken
            else ""
        ),
    )


def robustness_summary(robustness: xr.Dataset, results: xr.Dataset, bio: str, twin: str) -> list[SummaryCell]:
    """The pair's cell of the report's summary table: the area under the Gaussian-noise curve
    (accuracy averaged over sigma in [0, 0.5], :func:`~neurosim.analysis.strength_curves.area_cell`)."""
    return area_cell(
        robustness,
        "gaussian",
        bio,
        twin,
        "noise robustness (AUC, Gaussian)",
        "robust to Gaussian pixel noise",
    )


ANALYSIS = Analysis(
    name="robustness",
    description="accuracy vs. Gaussian noise, salt-and-pepper, occlusion, FGSM, PGD",
    compute=analyse_robustness,
    section=robustness_section,
    summary=robustness_summary,
)
