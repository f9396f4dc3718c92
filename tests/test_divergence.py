"""Divergence is a result state: detected by its rules, stored, marked in the report, never tested."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.config import MemberConfig, TrainingConfig
from neurosim.report.validity import chance_band, validity_warnings
from neurosim.results import open_dataset
from neurosim.results.schema import validate_fit
from neurosim.run_loading import build_model
from neurosim.tasks import TASKS
from neurosim.training import Trainer
from neurosim.training.divergence import (
    EXPLOSION_FACTOR,
    exploded_objective,
    nonfinite_objective,
    nonfinite_parameters,
)

from .conftest import run_cli, tiny_comparison


def test_the_rules():
    assert nonfinite_objective(2.3, 5) is None
    status = nonfinite_objective(float("nan"), 5)
    assert status.diverged and status.step == 5 and "nan" in status.reason
    assert nonfinite_objective(float("inf"), 1).diverged
    # Rule 2: the bound is 1000 x max(first, 1).
    assert exploded_objective(0.999 * EXPLOSION_FACTOR * 2.3, 2.3, 9) is None
    assert exploded_objective(1.001 * EXPLOSION_FACTOR * 2.3, 2.3, 9).step == 9
    # An objective bounded by 1 that starts small cannot explode.
    assert exploded_objective(1.0, 1e-4, 9) is None
    layer = torch.nn.Linear(3, 2)
    assert nonfinite_parameters(layer, 4) is None
    with torch.no_grad():
        layer.weight[0, 1] = float("inf")
    assert "weight" in nonfinite_parameters(layer, 4).reason


def fit(lr: float):
    task = TASKS.get("digits")()
    member = MemberConfig("mlp", "mlp", {"hidden_sizes": [32]}, TrainingConfig(epochs=2, lr=lr))
    model = build_model(member, task, 0)
    trainer = Trainer(model, task, member.training, 0, torch.device("cpu"), n_per_class=20)
    return trainer.fit()


def test_an_exploding_fit_stops_and_keeps_the_shared_checkpoint_grid():
    healthy, exploded = fit(1e-3), fit(1e6)
    assert not healthy.status.diverged and math.isfinite(healthy.final_test_accuracy)
    assert exploded.status.diverged and "exceeds 1000 x" in exploded.status.reason
    assert exploded.history.step == healthy.history.step, "members still line up"
    accuracy = np.array(exploded.history.test_accuracy)
    after = np.array(exploded.history.step) >= exploded.status.step
    assert np.isnan(accuracy[after]).all() and np.isfinite(accuracy[~after]).all()
    assert math.isnan(exploded.final_test_accuracy)


def test_a_nan_accuracy_is_valid_only_in_a_diverged_fit(stored_perceptron_run):
    fit_file = next((stored_perceptron_run / "fits" / "linear").glob("seed*.nc"))
    dataset = open_dataset(fit_file)
    dataset["test_accuracy"][-1] = np.nan
    with pytest.raises(ValueError, match="test_accuracy outside"):
        validate_fit(dataset)
    dataset.attrs |= {"status": "diverged", "diverged_step": 3, "diverged_reason": "test"}
    validate_fit(dataset)


DIVERGING = tiny_comparison(
    name="diverging",
    description=None,
    seeds=[0, 1],
    pairs=["perceptron_rosenblatt_mlp"],
    task={"n_per_class": 20},
    training={"lr": None},
    models={"perceptron_rosenblatt": {"n_association_units": 64}, "mlp": {"training": {"lr": 1e6}}},
)


@pytest.mark.slow
def test_a_diverged_twin_is_reported_as_diverged_and_never_tested(tmp_path):
    comparison = tmp_path / "diverging.toml"
    comparison.write_text(DIVERGING)
    process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    assert process.stderr.count("DIVERGED at step") == 2, process.stderr
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    results = open_dataset(report.parents[1] / "results.nc")
    assert results.diverged.sel(model="mlp").values.tolist() == [1, 1]
    assert results.diverged.sel(model="perceptron_rosenblatt").values.tolist() == [0, 0]
    markdown = (report.parent / "report.md").read_text()
    assert "WARNING: mlp diverged in seeds 0 (step" in markdown
    assert "| perceptron_rosenblatt - mlp | not tested: mlp diverged | n/a | n/a | 0 |" in markdown
    mlp_row = next(line for line in markdown.splitlines() if line.startswith("| mlp | twin |"))
    assert "DIVERGED" in mlp_row and "0." not in mlp_row.split("|")[3], "no accuracy for a diverged member"
    assert "p (paired t)" in markdown and "+0." not in markdown.split("p (paired t)")[1].split("\n\n")[0]


def synthetic_results(accuracies: dict[str, list[float]], n_per_class: int = 100) -> xr.Dataset:
    """A results Dataset with each member's final accuracies and a 10-class balanced test set."""
    members = list(accuracies)
    seeds = len(next(iter(accuracies.values())))
    confusion = np.zeros((len(members), seeds, 10, 10))
    confusion[..., np.arange(10), np.arange(10)] = n_per_class
    return xr.Dataset(
        {
            "final_test_accuracy": (("model", "seed"), np.array([accuracies[m] for m in members])),
            "confusion": (("model", "seed", "class_true", "class_pred"), confusion),
            "diverged": (("model", "seed"), np.zeros((len(members), seeds), dtype=np.int8)),
        },
        coords={"model": members, "seed": np.arange(seeds)},
    )


def test_chance_band_of_a_balanced_test_set():
    p0, upper, n = chance_band(synthetic_results({"a": [0.5]}))
    assert n == 1000 and p0 == pytest.approx(0.1)
    assert upper == pytest.approx(0.1 + 1.96 * math.sqrt(0.09 / 1000))


def test_a_member_at_chance_beside_a_learning_twin_is_flagged():
    results = synthetic_results({"bio": [0.10, 0.11, 0.09], "twin": [0.95, 0.96, 0.95]})
    (warning,) = validity_warnings(results, {"pair": ["bio", "twin"]})
    assert warning.startswith("bio is at chance level (0.1000") and "twin reaches 0.9533" in warning
    learning = synthetic_results({"bio": [0.5, 0.5, 0.5], "twin": [0.95, 0.96, 0.95]})
    assert validity_warnings(learning, {"pair": ["bio", "twin"]}) == []
    both = synthetic_results({"bio": [0.1, 0.1, 0.1], "twin": [0.12, 0.1, 0.1]})
    assert validity_warnings(both, {"pair": ["bio", "twin"]}) == []
    # The partner named is the best one that did not diverge.
    three = synthetic_results({"bio": [0.1], "failed": [0.5], "other": [0.85]})
    three["diverged"].loc[{"model": "failed"}] = 1
    warnings = validity_warnings(three, {"pair": ["bio", "failed", "other"]})
    assert any("while other reaches 0.8500" in w for w in warnings), warnings
