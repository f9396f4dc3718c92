"""Shift and deformation tolerance of a stored run: test accuracy against translation, rotation and
elastic deformation of the test images, for every member and seed, on the same transformed images.

This is the Neocognitron's founding claim (Fukushima 1980: recognition "unaffected by shift in
position"; 2003: tolerant of deformation) made measurable for every model. Transformations are
those of :mod:`neurosim.analysis.transforms`; strengths scale with the task's image width ``W``:

* ``translation``: shifts of 0, 1, ..., ``min(6, W // 4)`` pixels (0-6 for 28x28, 0-2 for 8x8),
  each image in a random one of 8 directions;
* ``rotation``: 0, 10, 20, 30 and 45 degrees, clockwise or anticlockwise at random;
* ``elastic``: Simard et al.'s distortion with a root-mean-square displacement of 0, 0.5, 1, 1.5
  and 2 pixels per 28 pixels of width (smoothing sigma 4 pixels per 28), so the deformation is the
  same fraction of the image for every task.

Stored as ``analyses/tolerance.nc`` with the layout of :mod:`neurosim.analysis.strength_curves`;
``strength`` is in pixels (translation, elastic) or degrees (rotation). Registered as
:data:`ANALYSIS` (report section: one figure of curves per pair); stored models are loaded inside
the compute function only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.stored_run import stored_analysis
from neurosim.analysis.strength_curves import (
    Strengths,
    accuracy_curve,
    analyse_strength_curves,
    perturbed_accuracy,
    strength_curves_section,
)
from neurosim.analysis.study import Analysis, Page
from neurosim.analysis.transforms import elastic, rotate, translate
from neurosim.errors import UserError

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel
    from neurosim.tasks import Task

ROTATION_DEGREES = (0.0, 10.0, 20.0, 30.0, 45.0)
#: Elastic displacement (RMS) in pixels for a 28-pixel-wide image.
ELASTIC_RMS_PER_28 = (0.0, 0.5, 1.0, 1.5, 2.0)
ELASTIC_SIGMA_PER_28 = 4.0


def tolerance_strengths(width: int) -> Strengths:
    """The strengths of every transformation for images ``width`` pixels wide."""
    scale = width / 28
    return {
        "translation": tuple(float(k) for k in range(min(6, width // 4) + 1)),
        "rotation": ROTATION_DEGREES,
        "elastic": tuple(round(r * scale, 4) for r in ELASTIC_RMS_PER_28),
    }


def tolerance_curves(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, strengths: Strengths
) -> dict[str, list[float]]:
    """Accuracy of ``model`` on ``x`` ``[N, C, H, W]`` at every strength of every transformation."""
    sigma = ELASTIC_SIGMA_PER_28 * x.shape[-1] / 28
    transforms = {
        "translation": lambda images, pixels: translate(images, int(pixels)),
        "rotation": rotate,
        "elastic": lambda images, rms: elastic(images, rms, sigma),
    }
    return {
        name: accuracy_curve(strengths[name], perturbed_accuracy(model, x, y, transform))
        for name, transform in transforms.items()
    }


def _image_width(task: Task) -> int:
    if len(task.input_shape) != 3:
        raise UserError(
            f"the tolerance analysis transforms images; task {task.name!r} has inputs of shape "
            f"{task.input_shape}"
        )
    return int(task.input_shape[-1])


def analyse_tolerance(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Compute the tolerance analysis of a finished run and store it; returns the Dataset."""

    return analyse_strength_curves(
        run_dir,
        "tolerance",
        lambda task: tolerance_strengths(_image_width(task)),
        tolerance_curves,
        n_stimuli,
    )


def stored_tolerance(run_dir: str | Path) -> xr.Dataset | None:
    """The stored tolerance analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "tolerance")


def tolerance_section(page: Page, tolerance: xr.Dataset, results: xr.Dataset) -> None:
    """The report's tolerance curves (``results``, the run's results, are not needed)."""
    strength_curves_section(
        page,
        tolerance,
        "Shift and deformation tolerance",
        "Test images translated (each by the stated number of pixels in one of 8 directions), rotated "
        "(either way) and elastically deformed (Simard et al. 2003; root-mean-square displacement), the "
        "same transformed images for every model. A curve that stays flat is tolerant.",
    )


ANALYSIS = Analysis(
    name="tolerance",
    description="accuracy vs. translation, rotation, elastic deformation",
    compute=analyse_tolerance,
    section=tolerance_section,
)
