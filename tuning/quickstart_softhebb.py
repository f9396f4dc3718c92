"""Unsupervised epochs of the quickstart's SoftHebb MLP and CNN, chosen on the validation split.

SoftHebb units start at the released code's radius and need steps to reach the unit sphere; one
epoch of digits is about 38 steps. Grid: 1, 5, 20, 50 epochs, 3 seeds, each model alone (its twin
has no unsupervised phase). Run: ``python tuning/quickstart_softhebb.py`` (about 10 min on 2 CPU
cores).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, best, study, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
MEMBERS = ("softhebb_mlp", "softhebb_cnn")
EPOCHS = (1, 5, 20, 50)


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    settings = [
        Setting(
            f"unsupervised_epochs = {e}", {f"models.{m}.training.unsupervised_epochs": e for m in MEMBERS}
        )
        for e in EPOCHS
    ]
    outcomes = study(base, settings, MEMBERS)
    print("validation accuracy, mean [95 % CI] over seeds")
    print(table(outcomes, MEMBERS))
    for member in MEMBERS:
        print(f"{member}: {best(outcomes, member).label}")


if __name__ == "__main__":
    main()
