"""Orientation tuning: OSI invariants, gratings, an oriented Gabor unit is selective and an isotropic
one is not, and the analysis of a stored run lands in the report."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.orientation import (
    N_ORIENTATIONS,
    N_PHASES,
    PERIODS_PER_28,
    analyse_orientation,
    first_layer_responses,
    gratings,
    orientation_selectivity,
    orientations,
    preferred_orientation,
    tuning_curves,
)
from neurosim.models.base import NeurosimModel

from .conftest import run_cli


def test_osi_invariants():
    angles = orientations()
    theta0 = angles[5]
    tuning = torch.stack(
        [
            torch.ones(N_ORIENTATIONS),  # untuned
            (angles == theta0).double(),  # one orientation only
            1 + torch.cos(2 * (angles - theta0)),  # a smooth tuning curve: OSI 1/2
            torch.zeros(N_ORIENTATIONS),  # unresponsive
        ]
    )
    osi = orientation_selectivity(tuning, angles)
    assert osi[:3].tolist() == pytest.approx([0.0, 1.0, 0.5], abs=1e-12)
    assert math.isnan(osi[3])
    assert preferred_orientation(tuning[1:3], angles).tolist() == pytest.approx([math.degrees(theta0)] * 2)
    assert orientation_selectivity(3 * tuning[2:3], angles).item() == pytest.approx(0.5)  # scale-free


def test_gratings_cover_orientations_periods_and_phases():
    images = gratings((1, 28, 28))
    assert images.shape == (N_ORIENTATIONS, len(PERIODS_PER_28), N_PHASES, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    vertical_bars = images[0, 0, 0, 0]  # orientation 0: the wave runs along x
    assert torch.allclose(vertical_bars, vertical_bars[:1].expand(28, -1))
    assert images.mean((-1, -2)).std() < 0.02  # every grating has mean intensity ~0.5


class OneFilter(NeurosimModel):
    """One fixed 2-D filter as a convolution: the probe point the analysis reads."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel.shape[-1], padding=kernel.shape[-1] // 2, bias=False)
        self.conv.weight.data = kernel[None, None]

    def forward(self, x):
        return self.conv(x - 0.5).mean((2, 3))

    def probe_points(self):
        return {"conv": self.conv}

    def learning_plan(self):
        return ()  # a fixed filter

    def first_layer_weights(self):
        return self.conv.weight.flatten(1)


def _filter_tuning(kernel: torch.Tensor) -> tuple[float, float]:
    stimuli = gratings((1, 28, 28))
    _, responses = first_layer_responses(OneFilter(kernel), stimuli.reshape(-1, 1, 28, 28))
    tuning = tuning_curves(responses.reshape(*stimuli.shape[:3], -1))
    angles = orientations()
    return float(orientation_selectivity(tuning, angles)), float(preferred_orientation(tuning, angles))


def test_an_oriented_gabor_is_selective_and_an_isotropic_filter_is_not():
    offsets = torch.arange(-6, 7, dtype=torch.float64)
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    envelope = torch.exp(-(x**2 + y**2) / (2 * 3.0**2))
    theta0 = math.radians(45)
    gabor = envelope * torch.cos(2 * math.pi * (x * math.cos(theta0) + y * math.sin(theta0)) / 6)
    osi, preferred = _filter_tuning(gabor.float())
    assert osi > 0.7 and preferred == pytest.approx(45, abs=6)
    isotropic = envelope - torch.exp(-(x**2 + y**2) / (2 * 1.0**2)) * envelope.sum() / 2 / math.pi
    osi, _ = _filter_tuning(isotropic.float())
    assert osi < 0.1


def test_orientation_analysis_of_a_stored_run(stored_perceptron_run):
    run_dir = stored_perceptron_run
    result = analyse_orientation(run_dir)
    assert result.osi.dims == ("model", "seed", "unit")
    assert result.osi.sizes["unit"] == 10  # the perceptrons' first (and only) layer: 10 units
    finite = result.osi.values[~np.isnan(result.osi.values)]
    assert len(finite) and ((finite >= 0) & (finite <= 1)).all()
    assert result.attrs["layer__perceptron"] and 0 < result.attrs["responsive__linear"] <= 1
    process = run_cli("analyse", str(run_dir), "--analyses", "orientation")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert "Orientation tuning of the first layer" in report.read_text()
    assert (report.parent / "figures" / "osi_perceptron_linear.png").stat().st_size > 1000
