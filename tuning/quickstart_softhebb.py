"""Unsupervised budgets of the quickstart's SoftHebb MLP and CNN, chosen on the validation split.

SoftHebb units start at the released code's radius and need steps to reach the unit sphere; one
pass over digits is about 46 steps. The budget is stated in images presented
(``unsupervised_samples``), as whole passes over the 1,442 training digits, so that the
validation fits (trained on 1,205 of them) take the updates the shipped fit takes. Grid: 1, 5,
20, 50 passes, 3 seeds, each model alone (its twin has no unsupervised phase). Run:
``python tuning/quickstart_softhebb.py`` (about 5 min on 2 CPU cores).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.tuning import choose_passes

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
MEMBERS = ("softhebb_mlp", "softhebb_cnn")
PASSES = (1, 5, 20, 50)
TRAINING_DIGITS = 1442


def main() -> None:
    choose_passes(COMPARISON, MEMBERS, PASSES, TRAINING_DIGITS)


if __name__ == "__main__":
    main()
