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

from neurosim.tuning import choose_passes

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
MEMBERS = ("diehl_cook",)
PASSES = (1, 2, 5)
TRAINING_DIGITS = 1442


def main() -> None:
    choose_passes(COMPARISON, MEMBERS, PASSES, TRAINING_DIGITS)


if __name__ == "__main__":
    main()
