"""Choosing settings on validation: the runs never see the test split, the table and the choice."""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.results import open_dataset
from neurosim.tuning import Setting, best, cheapest_within_tolerance, pass_budgets, study, table

BASE = {
    "name": "tune",
    "seeds": [0, 1],
    "device": "cpu",
    "pairs": ["perceptron_linear"],
    "task": {"name": "digits"},
    "training": {"epochs": 2, "batch_size": 32},
    "models": {"linear": {"training": {"lr": 0.01}}},
}


@pytest.mark.slow
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


def test_the_cheapest_budget_within_a_point_of_the_best_that_learnt_is_chosen():
    def outcome(label: str, accuracy: list[float]) -> tuple[Setting, dict[str, np.ndarray]]:
        return Setting(label, {}), {"m": np.asarray(accuracy)}

    outcomes = [
        outcome("1", [0.80, 0.81, 0.79]),  # mean 0.80: 10 points below the best
        outcome("5", [0.90, 0.91, 0.90]),  # 0.9033: 0.67 points below
        outcome("20", [0.91, 0.91, 0.91]),  # the best, 0.91
        outcome("50", [0.905, 0.90, 0.90]),
    ]
    assert best(outcomes, "m").label == "20"
    assert cheapest_within_tolerance(outcomes, "m").label == "5"
    assert cheapest_within_tolerance(outcomes, "m", tolerance=0.005).label == "20"
    # Budgets whose fits did not learn are passed over while another learnt ...
    learnt = {"1": False, "5": False, "20": False, "50": True}
    assert cheapest_within_tolerance(outcomes, "m", learnt).label == "50"
    # ... and the best of those that learnt is taken when none is within the tolerance.
    assert cheapest_within_tolerance(outcomes, "m", learnt | {"50": False, "1": True}).label == "1"
    # If none learnt, accuracy alone decides.
    assert cheapest_within_tolerance(outcomes, "m", dict.fromkeys(learnt, False)).label == "5"


def test_pass_budgets_state_fractions_of_a_pass_as_whole_images():
    settings = pass_budgets(["a", "b"], [0.5, 2], 1442)
    assert [s.label for s in settings] == [
        "0.5 passes (unsupervised_samples = 721)",
        "2 passes (unsupervised_samples = 2884)",
    ]
    assert settings[0].overrides == {
        "models.a.training.unsupervised_samples": 721,
        "models.b.training.unsupervised_samples": 721,
    }


def test_best_sharing_picks_the_twins_best_among_the_bio_models_matched_keys():
    from neurosim.tuning import best_sharing

    def outcome(label, bio, twin):
        return (Setting(label, {}), {"bio": np.array([bio]), "twin": np.array([twin])})

    outcomes = [
        outcome("beta 1, lr 1", 0.9, 0.5),
        outcome("beta 1, lr 2", 0.8, 0.7),
        outcome("beta 2, lr 1", 0.1, 0.99),  # the twin's best overall, but another beta
    ]
    chosen = outcomes[0][0]
    assert best_sharing(outcomes, "twin", chosen, lambda label: label.split(",")[0]).label == "beta 1, lr 2"
