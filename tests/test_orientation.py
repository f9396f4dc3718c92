"""Orientation tuning: OSI invariants, an oriented Gabor unit is selective and an isotropic one is not,
the V1 layer is the first output after a nonlinearity and a class readout is excluded, and the
analysis of a stored run lands in the report with its distance to the V1 reference."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.gratings import N_ORIENTATIONS, gratings, orientations
from neurosim.analysis.orientation import (
    analyse_orientation,
    orientation_selectivity,
    preferred_orientation,
    tuning_curves,
)
from neurosim.analysis.orientation_report import orientation_summary
from neurosim.analysis.v1_layer import v1_exclusion, v1_probe, v1_responses
from neurosim.analysis.v1_reference import ks_distance, load_reference
from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel
from neurosim.models.feedforward import linear, mlp

from .conftest import tiny_comparison


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


class OneFilter(NeurosimModel):
    """One fixed 2-D filter as a convolution (with a current probe before it, as models name them):
    the probe point the analysis reads is the convolution's output."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel.shape[-1], padding=kernel.shape[-1] // 2, bias=False)
        self.conv.weight.data = kernel[None, None]
        self.before = nn.Identity()

    def forward(self, x):
        return self.conv(self.before(x) - 0.5).mean((2, 3))

    def probe_points(self):
        return {"conv.pre": self.before, "conv": self.conv}

    def learning_plan(self):
        return ()  # a fixed filter

    def first_layer_weights(self):
        return self.conv.weight.flatten(1)


def _filter_tuning(kernel: torch.Tensor) -> tuple[float, float]:
    stimuli = gratings((1, 28, 28))
    name, responses = v1_responses(OneFilter(kernel), stimuli.reshape(-1, 1, 28, 28))
    assert name == "conv"
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


def test_the_v1_layer_is_the_first_output_and_a_class_readout_is_excluded():
    torch.manual_seed(0)
    stimuli = gratings((1, 8, 8)).reshape(-1, 1, 8, 8)
    hidden = mlp((1, 8, 8), 10, hidden_sizes=[16])
    assert v1_probe(hidden) == "hidden1" and not v1_exclusion(hidden, "hidden1", stimuli)
    readout = linear((1, 8, 8), 10)  # softmax regression: its only layer is its class scores
    assert v1_probe(readout) == "output"
    assert v1_exclusion(readout, "output", stimuli).startswith("class readout: the 10 units of 'output'")
    assert v1_exclusion(hidden, "output", stimuli)  # the MLP's readout is one too
    filter_model = OneFilter(torch.ones(3, 3))  # one unit per position: not the model's output
    assert not v1_exclusion(filter_model, "conv", stimuli)
    only_currents = OneFilter(torch.ones(3, 3))
    only_currents.probe_points = lambda: {"conv.pre": only_currents.before}  # type: ignore[method-assign]
    with pytest.raises(UserError, match="no probe point after a nonlinearity"):
        v1_probe(only_currents)


def test_class_readouts_of_a_stored_run_are_excluded_and_reported(stored_perceptron_run, cli_in_process):
    result = analyse_orientation(stored_perceptron_run)
    assert result.osi.dims == ("model", "seed", "unit") and result.cv_distance.dims == ("model", "seed")
    assert json.loads(result.attrs["periods_px"]) == [2.5, 3.75, 5.0, 7.5]  # digits: 8x8
    assert result.attrs["orientation_error_max_deg"] < 5.0
    for member in ("perceptron", "linear"):  # each a single layer of 10 class scores
        assert result.attrs[f"excluded__{member}"].startswith("class readout: the 10 units")
        assert np.isnan(result.osi.sel(model=member).values).all()
        assert np.isnan(result.cv_distance.sel(model=member).values).all()
    assert orientation_summary(result, result, "perceptron", "linear") == []
    process = cli_in_process("analyse", str(stored_perceptron_run), "--analyses", "orientation")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert "Orientation tuning of the first layer" in report.read_text()
    assert "excluded (class readout" in report.read_text()
    assert not (report.parent / "figures" / "cv_perceptron_linear.png").exists()  # nothing to compare


@pytest.fixture(scope="module")
def hidden_layer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run of Rosenblatt's photoperceptron against a one-hidden-layer MLP: first
    layers that are not class readouts."""
    from neurosim import config
    from neurosim.runner import run_comparison

    text = tiny_comparison(
        name="tiny_orientation",
        seeds=[0, 1],
        pairs=["perceptron_rosenblatt_mlp"],
        models={"perceptron_rosenblatt": {"n_association_units": 48}},
    )
    return run_comparison(config.resolve(config.tomllib.loads(text)), root=tmp_path_factory.mktemp("run"))


@pytest.mark.slow
def test_orientation_analysis_of_hidden_layers_measures_the_distance_to_v1(hidden_layer_run, cli_in_process):
    result = analyse_orientation(hidden_layer_run)
    assert result.attrs["layer__perceptron_rosenblatt"] == "association"
    assert result.attrs["layer__mlp"] == "hidden1" and not result.attrs["excluded__mlp"]
    reference = load_reference()
    for member in ("perceptron_rosenblatt", "mlp"):
        osi = result.osi.sel(model=member).values
        finite = osi[np.isfinite(osi)]
        assert len(finite) and ((finite >= 0) & (finite <= 1)).all()
        for s, seed_osi in enumerate(osi):
            assert result.cv_distance.sel(model=member).values[s] == ks_distance(1 - seed_osi, reference)
    (cell,) = orientation_summary(result, result, "perceptron_rosenblatt", "mlp")
    assert "uniform stand-in for Ringach et al. 2002" in cell.column and "n=2" in cell.difference
    process = cli_in_process("analyse", str(hidden_layer_run), "--analyses", "orientation")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert "KS distance to V1" in report.read_text() and "stand-in" in report.read_text()
    assert (report.parent / "figures" / "cv_perceptron_rosenblatt_mlp.png").stat().st_size > 1000
