"""The sweep report's statistics on a synthetic sweep: bounded accuracy intervals, paired AUC
differences with their interval, raw and Holm-adjusted p, and the label-draw statement."""

import json
import re

import numpy as np
import pytest
import xarray as xr

from neurosim.analysis.sample_efficiency import normalised_auc
from neurosim.analysis.statistics import holm_adjusted, paired_test
from neurosim.report.sweep import label_draw_note, paired_auc_rows

LABELS = [1, 10, 100]
SEEDS = [0, 1, 2, 3, 4]


def synthetic_sweep(subset_seeds: np.ndarray | None = None) -> xr.Dataset:
    """Two lr values; at lr 0.1 the bio curve is clearly above the twin's, at 0.01 barely."""
    rng = np.random.default_rng(0)
    accuracy = np.empty((3, 2, 2, 5))  # n_per_class, lr, model, seed
    for i in range(len(LABELS)):
        base = 0.5 + 0.15 * i
        accuracy[i, 0, 0] = base + 0.10 + rng.normal(0, 0.01, 5)
        accuracy[i, 0, 1] = base + rng.normal(0, 0.01, 5)
        accuracy[i, 1, 0] = base + 0.002 + rng.normal(0, 0.01, 5)
        accuracy[i, 1, 1] = base + rng.normal(0, 0.01, 5)
    confusion = np.zeros((3, 2, 2, 5, 2, 2))
    confusion[..., 0, 0] = 1000  # 1000 test images
    sweep = xr.Dataset(
        {
            "final_test_accuracy": (("n_per_class", "lr", "model", "seed"), accuracy),
            "confusion": (("n_per_class", "lr", "model", "seed", "class_true", "class_pred"), confusion),
        },
        coords={"n_per_class": LABELS, "lr": [0.1, 0.01], "model": ["bio", "twin"], "seed": SEEDS},
        attrs={
            "grid_dims": json.dumps({"task.n_per_class": "n_per_class", "training.lr": "lr"}),
            "pair_members": json.dumps({"pair": ["bio", "twin"]}),
        },
    )
    if subset_seeds is not None:
        sweep["labelled_subset_seed"] = (("n_per_class", "lr", "model", "seed"), subset_seeds)
    return sweep


def test_paired_auc_rows_give_the_difference_interval_raw_and_holm_p():
    sweep = synthetic_sweep()
    rows = paired_auc_rows(sweep)
    assert [row[:2] for row in rows] == [["bio - twin", "0.1"], ["bio - twin", "0.01"]]
    raw = []
    for lr in (0.1, 0.01):
        aucs = {
            m: [
                normalised_auc(np.array(LABELS), c)
                for c in sweep.final_test_accuracy.sel(lr=lr, model=m).T.values
            ]
            for m in ("bio", "twin")
        }
        raw.append(paired_test(aucs["bio"], aucs["twin"]).p_value)
    adjusted = holm_adjusted(raw)
    for row, p, holm in zip(rows, raw, adjusted, strict=True):
        assert float(row[3]) == pytest.approx(p, rel=1e-2) and float(row[4]) == pytest.approx(holm, rel=1e-2)
        assert float(row[4]) >= float(row[3])
    mean, interval = rows[0][2].split(" [")
    low, high = (float(v) for v in interval.rstrip("]").split(", "))
    assert 0 < low < float(mean) < high  # the bio model's clear advantage at lr 0.1
    assert rows[0][-1] == "5"


def test_the_report_says_whether_label_draws_vary_with_the_seed():
    follows = np.broadcast_to(np.array(SEEDS, dtype=float), (3, 2, 2, 5))
    assert "include label-draw variance" in label_draw_note(synthetic_sweep(follows))
    assert "leave out label-draw variance" in label_draw_note(synthetic_sweep(np.zeros((3, 2, 2, 5))))
    assert "leaves out which examples" in label_draw_note(synthetic_sweep())  # stored before


def test_the_sweep_report_prints_bounded_accuracies_holm_and_the_degrees_of_freedom(tmp_path):
    from neurosim.report.sweep import build_sweep_report
    from neurosim.results.storage import save_dataset

    follows = np.broadcast_to(np.array(SEEDS, dtype=float), (3, 2, 2, 5))
    sweep = synthetic_sweep(follows)
    sweep["final_test_accuracy"][-1, 0, 0] = 1.0  # every seed perfect: a t-interval would be [1, 1]
    status = np.full((3, 2), "done", dtype=object)
    for name in ("cell_status", "cell_error", "cell_id", "cell_config"):
        sweep[name] = (("n_per_class", "lr"), status if name == "cell_status" else np.full((3, 2), ""))
    sweep.attrs |= {
        "sweep": "synthetic",
        "grid": json.dumps({"task.n_per_class": LABELS, "training.lr": [0.1, 0.01]}),
    }
    save_dataset(tmp_path / "sweep.nc", sweep)
    markdown = (build_sweep_report(tmp_path).parent / "report.md").read_text()
    text = markdown.replace("\\[", "[").replace("\\]", "]")  # Markdown escapes brackets
    assert "p (Holm)" in text and "AUC difference [95 % CI]" in text
    assert "n = 5 seeds, 4 degrees of freedom" in text and "include label-draw variance" in text
    assert "1.0000 [0.99" in text and "1.0000]" in text  # bounded, open below
    intervals = [float(bound) for pair in re.findall(r"\[(\d\.\d{4}), (\d\.\d{4})\]", text) for bound in pair]
    assert intervals and max(intervals) <= 1
