"""The quickstart's shared supervised budget: what each number of epochs costs, on validation.

The quickstart must run every pair, 3 seeds, in 60 s on 2 CPU cores (README), so its shared
budget is set by time, not chosen for accuracy; this script measures the price. It runs the whole
comparison (every pair, the unsupervised budgets chosen by ``tuning/quickstart_unsupervised.py``)
on the validation split at several shared budgets and prints, per member, the validation accuracy
(mean [95 % CI] over the seeds) and, per budget, the training time of all fits (seconds of the
fits alone, one thread each, summed; the quickstart runs them in two processes and adds start-up
and report).
Every member gets the same epochs at each budget, so no twin is favoured.

The shipped budget is the largest whose fits here sum to at most :data:`FIT_SECONDS`. The
validation fits train on 1,205 digits, the shipped ones on 1,442: at 5 epochs they sum to 60 s
here and to 71 s in the shipped quickstart, which then runs in 53-60 s on a fresh clone (start-up
~5 s, report ~8 s, two processes of one thread each; 2 CPU cores). 10 epochs (75 s here, ~89 s
shipped) would take it past 60 s. Run: ``python tuning/quickstart_budget.py`` (about 5 min).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurosim.config import load_raw
from neurosim.results.storage import open_dataset
from neurosim.tuning import Setting, run_on_validation, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
EPOCHS = (3, 5, 10, 20)
#: Seconds of training (all fits, one thread each, summed) on validation that the quickstart's
#: 60 s leave (see the module docstring).
FIT_SECONDS = 65.0


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    outcomes, seconds = [], {}
    for epochs in EPOCHS:
        setting = Setting(f"{epochs} epochs", {"training.epochs": epochs})
        results = open_dataset(run_on_validation(base, setting, None) / "results.nc")
        accuracy = {str(m): results.final_test_accuracy.sel(model=m).values for m in results.model.values}
        outcomes.append((setting, accuracy))
        seconds[setting.label] = float(results.wall_time.isel(checkpoint=-1).sum())
    members = list(outcomes[0][1])
    print("validation accuracy, mean [95 % CI] over seeds, by shared budget")
    print(table(outcomes, members[: len(members) // 2]))
    print(table(outcomes, members[len(members) // 2 :]))
    print("\n| budget | time of all fits (s, one thread each, summed) | mean accuracy over members |")
    print("|---|---|---|")
    for setting, accuracy in outcomes:
        mean = np.mean([np.mean(values) for values in accuracy.values()])
        print(f"| {setting.label} | {seconds[setting.label]:.0f} | {mean:.4f} |")
    fitting = [s for s, _ in outcomes if seconds[s.label] <= FIT_SECONDS]
    print(
        f"shipped: {fitting[-1].label if fitting else 'none fits'} (the largest within {FIT_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
