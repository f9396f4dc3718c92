"""LeNet-5's learning rate in the quickstart (the shared 0.01 does not suit its tanh units),
chosen on the validation split.

The Neocognitron, LeNet-5's partner, learns without a rate (its thresholds were chosen on
validation, see its module). Krotov-Hopfield's readout rate and its twin's are chosen jointly with
the model's inputs and beta (``tuning/krotov_inputs.py``). Grid: 0.01 (the shared rate), 0.003,
0.001, 3 seeds, the whole comparison at its shipped budget (each model's options come from its
pair). Run: ``python tuning/quickstart_lr.py`` (about 3 min on 2 CPU cores).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, print_choice, study

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
MEMBERS = ("lenet5",)
RATES = (0.01, 0.003, 0.001)


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    settings = [Setting(f"lr {lr:g}", {f"models.{m}.training.lr": lr for m in MEMBERS}) for lr in RATES]
    outcomes = study(base, settings, None)
    print_choice(outcomes, MEMBERS, "validation accuracy, mean [95 % CI] over seeds")


if __name__ == "__main__":
    main()
