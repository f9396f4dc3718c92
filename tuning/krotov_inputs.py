"""Krotov-Hopfield's inputs, top-layer beta and readout rate in the quickstart, chosen jointly on
the validation split.

The paper feeds raw pixels (the released code's pixels / 255) to a top layer ``tanh(beta S f)``
with beta = 0.01; neurosim's model scales every input to unit length (the first author's advice)
with beta = 1 by default (``neurosim/models/krotov.py`` says why). The three interact (beta sets
the scale of the top layer's input, the rate how fast it moves), and one at a time the choice
went round in circles within the noise of 3 seeds, so this script searches them jointly: inputs
unit length with beta 0.01, 0.1 and 1, or raw pixels with beta 1e-4, 1e-3 and 0.01 (the grids span
the scale of each: raw currents are ``||x||`` times the unit-length ones, features ``||x||^4.5``
times), each with readout rates 0.01, 0.003 and 0.001. Inputs and beta are matched keys of the
pair, so the twin (``krotov_backprop``, 100 hidden units like the Hebbian model) runs the same 18
settings. Choice: the Hebbian model's best mean; the twin takes its inputs and beta and its own
best rate among them. 3 seeds; only the two members train, at the quickstart's budget. Run:
``python tuning/krotov_inputs.py`` (about 5 min on 2 CPU cores).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.config import load_raw
from neurosim.tuning import Setting, best, best_sharing, study, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "quickstart.toml"
BIO, TWIN = "hebbian_krotov", "krotov_backprop"
GRID = (("unit_length", (0.01, 0.1, 1.0)), ("raw", (1e-4, 1e-3, 0.01)))
RATES = (0.01, 0.003, 0.001)


def settings(hidden: int) -> list[Setting]:
    """Every (inputs, beta, rate), set on both members (the twin at the Hebbian model's width)."""
    grid = []
    for inputs, betas in GRID:
        for beta in betas:
            for lr in RATES:
                overrides = {f"models.{TWIN}.n_hidden": hidden}
                for member in (BIO, TWIN):
                    overrides |= {f"models.{member}.inputs": inputs, f"models.{member}.beta": beta}
                    overrides[f"models.{member}.training.lr"] = lr
                grid.append(Setting(f"{inputs}, beta {beta:g}, lr {lr:g}", overrides))
    return grid


def main() -> None:
    base = load_raw(COMPARISON) | {"device": "cpu"}
    outcomes = study(base, settings(base["models"][BIO]["n_hidden"]), (BIO, TWIN))
    print("validation accuracy, mean [95 % CI] over seeds")
    print(table(outcomes, (BIO, TWIN)))
    chosen = best(outcomes, BIO)
    print(f"{BIO}: best {chosen.label}")
    inputs_and_beta = lambda label: label.rsplit(", lr", 1)[0]  # noqa: E731
    twin = best_sharing(outcomes, TWIN, chosen, inputs_and_beta)
    print(f"{TWIN}: best rate with {inputs_and_beta(chosen.label)}: {twin.label}")


if __name__ == "__main__":
    main()
