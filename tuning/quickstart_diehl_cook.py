"""Unsupervised budget of the quickstart's Diehl & Cook network, chosen on the validation split.

The network learns in the batched mode at the model's default number of slots, which
``benchmarks/stdp_slots.py`` chose as within 1 point of the sequential algorithm after one pass.
The budget is stated in images presented (``unsupervised_samples``), as whole passes over the
1,442 training digits, so that the validation fits (trained on 1,205 of them) take the updates
the shipped fit takes. Grid: 1, 2 and 5 passes, 3 seeds, the network alone (its twins have other
budgets). Run: ``python tuning/quickstart_diehl_cook.py`` (about 3 min on 2 CPU cores).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, best, study, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
MEMBERS = ("diehl_cook",)
PASSES = (1, 2, 5)
TRAINING_DIGITS = 1442


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    settings = [
        Setting(
            f"{passes} passes (unsupervised_samples = {passes * TRAINING_DIGITS})",
            {"models.diehl_cook.training.unsupervised_samples": passes * TRAINING_DIGITS},
        )
        for passes in PASSES
    ]
    outcomes = study(base, settings, MEMBERS)
    print("validation accuracy, mean [95 % CI] over seeds")
    print(table(outcomes, MEMBERS))
    print(f"diehl_cook: {best(outcomes, 'diehl_cook').label}")


if __name__ == "__main__":
    main()
