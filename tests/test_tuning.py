"""Choosing settings on validation: the runs never see the test split, the table and the choice."""

from __future__ import annotations

import numpy as np

from neurosim.results import open_dataset
from neurosim.tuning import Setting, best, study, table

BASE = {
    "name": "tune",
    "seeds": [0, 1],
    "device": "cpu",
    "pairs": ["perceptron_linear"],
    "task": {"name": "digits"},
    "training": {"epochs": 2, "batch_size": 32},
    "models": {"linear": {"training": {"lr": 0.01}}},
}


def test_a_study_runs_each_setting_on_validation_and_picks_the_best(tmp_path):
    settings = [Setting(f"lr {lr:g}", {"models.linear.training.lr": lr}) for lr in (1e-5, 1e-2)]
    outcomes = study(BASE, settings, ["linear"], root=tmp_path)
    tiny, good = (outcome[1]["linear"] for outcome in outcomes)
    assert tiny.shape == good.shape == (2,) and good.mean() > tiny.mean() + 0.3
    assert best(outcomes, "linear").label == "lr 0.01"
    runs = sorted(tmp_path.glob("*/results.nc"))
    assert len(runs) == 2 and all(not (r.parent / "fits" / "perceptron").exists() for r in runs)
    results = open_dataset(runs[0])
    assert "EVALUATED ON VALIDATION" in results.attrs["task_description"]
    assert int(results.confusion.isel(model=0, seed=0).sum()) == 237, "tested on the validation split"
    rows = table(outcomes, ["linear"]).splitlines()
    assert rows[0] == "| setting | linear |" and rows[3].startswith(f"| lr 0.01 | {np.mean(good):.4f} [")
