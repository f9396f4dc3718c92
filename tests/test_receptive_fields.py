"""Spike-triggered averages: a linear-nonlinear unit's STA recovers its weights (Bussgang), a unit
that never responds has none, and the analysis of a stored run matches the stored weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurosim.analysis.receptive_fields import (
    analyse_receptive_fields,
    cosine_rows,
    spike_triggered_average,
    white_noise,
)
from tests.conftest import run_cli


def test_sta_of_a_linear_nonlinear_unit_is_proportional_to_its_weights():
    noise = white_noise(20000, (1, 6, 6))
    generator = torch.Generator().manual_seed(1)
    weights = torch.randn(3, 36, generator=generator)
    drive = noise.reshape(len(noise), -1) @ weights.T
    # Poisson-like counts from a rectified drive (a spiking unit), and a unit that never fires.
    counts = torch.poisson(torch.relu(drive - drive.mean(0)), generator=generator)
    counts[:, 2] = 0.0
    sta = spike_triggered_average(noise, counts)
    cosine = cosine_rows(sta, weights)
    assert float(cosine[0]) > 0.95 and float(cosine[1]) > 0.95
    assert torch.isnan(sta[2]).all() and torch.isnan(cosine[2])
    # A unit driven by nothing but noise-independent chance has an STA near 0 relative to its weights.
    shuffled = counts[torch.randperm(len(counts), generator=generator), :1]
    assert abs(float(cosine_rows(spike_triggered_average(noise, shuffled), weights[:1])[0])) < 0.2


def test_white_noise_is_fixed_and_in_the_input_range():
    a, b = white_noise(100, (1, 4, 4)), white_noise(100, (1, 4, 4))
    assert torch.equal(a, b) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert float(a.mean()) == pytest.approx(0.5, abs=0.03)


def test_receptive_fields_of_a_stored_run(stored_perceptron_run):
    result = analyse_receptive_fields(stored_perceptron_run)
    assert result.sta.dims == ("model", "seed", "unit", "input")
    assert result.sta.sizes["input"] == 64  # digits: 1 x 8 x 8
    assert (
        result.attrs["units__linear"] == 10 and np.isnan(result.sta.sel(model="linear").values[:, 10:]).all()
    )
    # The softmax-regression twin's units are rectified linear scores: their STAs follow their
    # weights (not exactly: the noise is uniform, not Gaussian, and rectification truncates it).
    # Units whose score white noise never lifts above 0 have none.
    cosine = result.sta_weight_cosine.sel(model="linear").values
    finite = cosine[np.isfinite(cosine)]
    assert len(finite) >= 6 and float(np.median(finite)) > 0.7
    assert np.isnan(result.sta.sel(model="linear").values[~np.isfinite(cosine)]).all()
    # Both members' only layer is their class scores: STAs of class templates, no V1 analogue.
    assert result.attrs["excluded__linear"].startswith("class readout: the 10 units of 'output'")
    assert result.attrs["excluded__perceptron"].startswith("class readout: the 10 units of 'readout'")
    process = run_cli("report", str(stored_perceptron_run))
    report = Path(process.stdout.strip().splitlines()[-1])
    assert "Receptive fields from white noise" in report.read_text()
    assert "no (class readout" in report.read_text()
    assert (report.parent / "figures" / "sta_linear.png").stat().st_size > 1000
