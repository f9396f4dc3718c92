"""Gratings on a model's input: the period grid stays above Nyquist, pixels are area averages, and
the orientation the pixels carry is the one drawn (< 5 degrees at every period, orientation and
phase used, on 8x8 and 28x28 inputs and after the models' resampling), while the old 8x8 periods
alias."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurosim.analysis.gratings import (
    MIN_PERIOD,
    N_ORIENTATIONS,
    N_PHASES,
    estimate_wave,
    grating_images,
    grating_orientation_errors,
    gratings,
    orientation_error,
    orientations,
    periods_for,
    phases,
)
from neurosim.models.retina import fit_to_retina

#: The periods on 8x8 digits before this grid: the 28-pixel grid scaled by 8/28.
OLD_DIGITS_PERIODS = (4 * 8 / 28, 6 * 8 / 28)  # 1.14 and 1.71 px


def test_period_grid_keeps_28_pixels_and_lifts_small_inputs_above_nyquist():
    assert periods_for(28) == (4.0, 6.0, 8.0, 12.0)
    assert periods_for(8) == (2.5, 3.75, 5.0, 7.5)
    assert periods_for(56) == (8.0, 12.0, 16.0, 24.0)
    for width in range(4, 65):
        assert min(periods_for(width)) >= MIN_PERIOD > 2.0
    images = gratings((3, 8, 8))
    assert images.shape == (N_ORIENTATIONS, 4, N_PHASES, 3, 8, 8) and images.dtype == torch.float32
    assert torch.equal(images[..., 0, :, :], images[..., 2, :, :])  # every channel alike


def test_pixels_are_area_averages_of_the_continuous_grating():
    """Drawn at 64x the resolution and block-averaged down, the grating matches the analytic one."""
    angle, period, phase = torch.tensor([0.7]), torch.tensor([2.5]), torch.tensor([1.3])
    analytic = grating_images((8, 8), angle, period, phase)[0, 0, 0]
    fine = 64
    sub = (torch.arange(8 * fine, dtype=torch.float64) + 0.5) / fine - 0.5 - 3.5  # sub-pixel centres
    y, x = torch.meshgrid(sub, sub, indexing="ij")
    continuous = 0.5 + 0.5 * torch.cos(2 * math.pi * (x * math.cos(0.7) + y * math.sin(0.7)) / 2.5 + 1.3)
    averaged = continuous.reshape(8, fine, 8, fine).mean((1, 3))
    assert torch.allclose(analytic, averaged, atol=1e-4)
    assert not torch.allclose(analytic, continuous[fine // 2 :: fine, fine // 2 :: fine], atol=0.05)


def test_estimator_reads_hand_made_waves():
    x = torch.arange(8, dtype=torch.float64)
    vertical_bars = torch.cos(2 * math.pi * x / 4).expand(8, 8)  # the wave runs along x: 0 degrees
    orientation, period = estimate_wave(vertical_bars)
    assert orientation_error(orientation, 0.0) < 1e-6 and period == pytest.approx(4.0)
    orientation, period = estimate_wave(vertical_bars.T)  # horizontal bars: 90 degrees
    assert orientation_error(orientation, 90.0) < 1e-6 and period == pytest.approx(4.0)
    assert orientation_error(179.0, 1.0) == pytest.approx(2.0) and orientation_error(10.0, 100.0) == 90.0


@pytest.mark.parametrize("width", [8, 28])
def test_every_grating_used_carries_its_orientation(width):
    images = gratings((1, width, width))[:, :, :, 0].double()
    errors = grating_orientation_errors(images, orientations())
    assert errors.shape == (N_ORIENTATIONS, 4, N_PHASES)
    assert errors.max() < 5.0, f"worst {errors.max():.2f} degrees"
    for f, period in enumerate(periods_for(width)):  # and the period drawn
        assert estimate_wave(images[3, f, 2])[1] == pytest.approx(period, rel=1e-3)


@pytest.mark.parametrize(
    "margin", [0, 2]
)  # Diehl & Cook's 28x28 retina; LeNet-5's and the Neocognitron's 32x32
def test_gratings_resampled_onto_a_models_retina_keep_their_orientation(margin):
    images = gratings((1, 8, 8))[:, :, ::2]  # every orientation and period; every other phase (time)
    retina = fit_to_retina(images.reshape(-1, 1, 8, 8), 28, margin)
    inside = retina[:, 0, margin : margin + 28, margin : margin + 28]  # the image, not its blank margin
    errors = grating_orientation_errors(inside.reshape(*images.shape[:3], 28, 28).double(), orientations())
    assert errors.max() < 5.0, f"worst {errors.max():.2f} degrees"


def test_the_old_digits_periods_alias():
    """On 8x8 inputs the old periods (below 2 px) carry other orientations than the ones drawn."""
    images = grating_images((8, 8), orientations(), torch.tensor(OLD_DIGITS_PERIODS), phases())
    errors = grating_orientation_errors(images, orientations())
    median = np.median(errors, axis=(0, 2))  # per period
    assert median[0] > 45.0 and median[1] > 10.0, median
    assert errors.max() > 40.0
