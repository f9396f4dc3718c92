"""The quickstart's shared supervised budget: what each number of epochs costs, on validation.

The quickstart must run every pair, 3 seeds, in 60 s on 2 CPU cores (README), so its shared
budget is set by time, not chosen for accuracy; this script measures the price. It runs the whole
comparison (every pair, the unsupervised budgets chosen by ``tuning/quickstart_unsupervised.py``)
on the validation split at several shared budgets and prints, per member, the validation accuracy
(mean [95 % CI] over the seeds) and, per budget, the training time of all fits (seconds of the
fits alone, one thread each, summed; the quickstart runs them in two processes and adds start-up
and report).
Every member gets the same epochs at each budget, so no twin is favoured.

The shipped 5 epochs are not chosen here: the quickstart takes 51-57 s with them on a fresh
clone and 63 s with 10 (2 CPU cores, README); the fits' time printed here grows by 11-25 % from 5
to 10 epochs (two studies on the developer machine: 62 -> 69 s and 60 -> 75 s; its speed varied
by ~20 % from run to run, so the times are a guide). Run: ``python tuning/quickstart_budget.py``
(about 5 min).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurosim.config import load_raw
from neurosim.tuning import Setting, study_results, table, validation_accuracy

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
EPOCHS = (3, 5, 10, 20)


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    settings = [Setting(f"{epochs} epochs", {"training.epochs": epochs}) for epochs in EPOCHS]
    runs = study_results(base, settings, None)
    outcomes = [(setting, validation_accuracy(results)) for setting, results in runs]
    seconds = {setting.label: float(results.wall_time.isel(checkpoint=-1).sum()) for setting, results in runs}
    members = list(outcomes[0][1])
    print("validation accuracy, mean [95 % CI] over seeds, by shared budget")
    print(table(outcomes, members[: len(members) // 2]))
    print(table(outcomes, members[len(members) // 2 :]))
    print("\n| budget | time of all fits (s, one thread each, summed) | mean accuracy over members |")
    print("|---|---|---|")
    for setting, accuracy in outcomes:
        mean = np.mean([np.mean(values) for values in accuracy.values()])
        print(f"| {setting.label} | {seconds[setting.label]:.0f} | {mean:.4f} |")
    print("shipped: 5 epochs, set by the quickstart's 60 s goal (see the module docstring)")


if __name__ == "__main__":
    main()
