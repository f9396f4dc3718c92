"""Unsupervised budgets of the quickstart's local-rule models, chosen on the validation split.

Each budget is stated in images presented (``unsupervised_samples``), as passes over the 1,442
training digits, so that the validation fits (trained on 1,205 of them) take the updates the
shipped fit takes. Each model is run alone (its twins have no unsupervised phase), 3 seeds, and
the choice is the cheapest budget within 1 point of the best among those whose fits learnt
(:func:`neurosim.tuning.cheapest_within_tolerance`): a larger budget is taken only where it
helps, since the quickstart has 60 s for every pair.

- SoftHebb MLP and CNN: their units start at the released code's radius and need steps to reach
  the unit sphere (one pass over the digits is about 46 steps).
- Krotov-Hopfield: 100 units, k = 2.
- The Neocognitron: US2 and US3 generate planes in one pass or less (Fukushima trained on 3,000
  digits); fractions of a pass are whole images.
- Diehl & Cook: 100 neurons in the model's default exact mode (the paper's sequential algorithm).

Run: ``python tuning/quickstart_unsupervised.py [GROUP ...]`` with groups ``softhebb``,
``krotov``, ``neocognitron``, ``diehl_cook`` (default: all; about 10 min on 2 CPU cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

from neurosim.tuning import choose_passes

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
TRAINING_DIGITS = 1442
#: group -> (members, passes over the training digits)
GROUPS = {
    "softhebb": (("softhebb_mlp", "softhebb_cnn"), (1, 5, 20, 50)),
    "krotov": (("hebbian_krotov",), (10, 20, 50, 100)),
    "neocognitron": (("neocognitron",), (0.25, 0.5, 1)),
    "diehl_cook": (("diehl_cook",), (0.5, 1, 2, 5)),
}


def main(groups: list[str]) -> None:
    for group in groups or list(GROUPS):
        members, passes = GROUPS[group]
        print(f"\n## {group}")
        choose_passes(COMPARISON, members, passes, TRAINING_DIGITS)


if __name__ == "__main__":
    main(sys.argv[1:])
