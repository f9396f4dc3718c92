"""The Hebbian pairs of ``comparisons/fashion_mnist_hebbian.toml``: the settings chosen by accuracy,
re-made on Fashion-MNIST's validation split (50k train, 10k validation; the test set is not used),
each twin on a grid of the same size as its Hebbian model's.

- Krotov-Hopfield: the top layer's beta (0.03, 0.1, 0.3) and the readout's rate (1e-3, 3e-3),
  6 settings. beta is a matched key of the pair, so the twin (``krotov_backprop``, the same 2000
  hidden units, centred inputs and top layer) runs the same 6 settings; the Hebbian model takes
  its best mean, the twin that beta and its own best rate with it.
- SoftHebb MLP: its temperatures, ``t_invert`` (100, 250) x ``feature_t_invert`` (25, 50),
  4 settings; its twin has no Hebbian temperature (and keeps its own ``feature_t_invert``, see
  the pair), so its 4 settings are learning rates (3e-4, 1e-3, 3e-3, 1e-2).

What stays as the file has it: the budgets in images presented (20 passes of the 60k for Krotov,
one for SoftHebb; ``tuning/budget_transfer.py`` checks that they converge at every size),
Krotov's centred inputs and SoftHebb's batch of 10 (both chosen by whether the units learn, the
comparison's header gives the evidence), and the shared 10 readout epochs. The full comparison
trains on the 60k; these fits train on 50k with the same images presented. Seeds 0 and 1, the
shipped budgets. Run: ``python tuning/fashion_mnist_hebbian.py [krotov] [softhebb]`` (default
both; about 60 min on 2 CPU cores; needs Fashion-MNIST).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from neurosim.config import load_raw, resolve
from neurosim.tuning import Setting, best, best_sharing, print_choice, study, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "fashion_mnist_hebbian.toml"
PROBE = {"seeds": [0, 1], "device": "cpu"}
KROTOV, KROTOV_TWIN = "hebbian_krotov", "krotov_backprop"
SOFTHEBB, SOFTHEBB_TWIN = "softhebb_mlp", "softhebb_mlp_backprop"
KROTOV_GRID = tuple(itertools.product((0.03, 0.1, 0.3), (1e-3, 3e-3)))
SOFTHEBB_GRID = tuple(itertools.product((100.0, 250.0), (25.0, 50.0)))
TWIN_RATES = (3e-4, 1e-3, 3e-3, 1e-2)
HEADING = "validation accuracy, mean [95 % CI] over seeds 0 and 1"


def twin_options(base: dict, twin: str) -> dict[str, object]:
    """The options the pair gives ``twin`` in the full comparison, as overrides: tuned alone, a
    twin does not get its matched keys (width, inputs, ...) from its Hebbian model."""
    (member,) = [m for m in resolve(base).members if m.name == twin]
    return {f"models.{twin}.{key}": value for key, value in member.options.items()}


def krotov(base: dict) -> None:
    """beta x rate on both members of the Krotov pair."""
    fixed = PROBE | twin_options(base, KROTOV_TWIN)
    settings = []
    for beta, lr in KROTOV_GRID:
        overrides = dict(fixed)
        for member in (KROTOV, KROTOV_TWIN):
            overrides |= {f"models.{member}.beta": beta, f"models.{member}.training.lr": lr}
        settings.append(Setting(f"beta {beta:g}, lr {lr:g}", overrides))
    outcomes = study(base, settings, (KROTOV, KROTOV_TWIN))
    print(HEADING)
    print(table(outcomes, (KROTOV, KROTOV_TWIN)))
    chosen = best(outcomes, KROTOV)
    print(f"{KROTOV}: best {chosen.label}")
    beta = lambda label: label.split(",")[0]  # noqa: E731
    twin = best_sharing(outcomes, KROTOV_TWIN, chosen, beta)
    print(f"{KROTOV_TWIN}: best rate with {beta(chosen.label)}: {twin.label}")


def softhebb(base: dict) -> None:
    """The SoftHebb MLP's two temperatures; its twin's learning rate, as many settings."""
    hebbian = [
        Setting(
            f"t_invert {t:g}, feature_t_invert {f:g}",
            PROBE | {f"models.{SOFTHEBB}.t_invert": t, f"models.{SOFTHEBB}.feature_t_invert": f},
        )
        for t, f in SOFTHEBB_GRID
    ]
    fixed = PROBE | twin_options(base, SOFTHEBB_TWIN)
    twin = [Setting(f"lr {lr:g}", fixed | {f"models.{SOFTHEBB_TWIN}.training.lr": lr}) for lr in TWIN_RATES]
    for members, settings in (((SOFTHEBB,), hebbian), ((SOFTHEBB_TWIN,), twin)):
        print_choice(study(base, settings, members), members, HEADING)
        print()


def main(groups: list[str]) -> None:
    base = load_raw(COMPARISON)
    for group in groups or ["krotov", "softhebb"]:
        print(f"\n## {group}")
        {"krotov": krotov, "softhebb": softhebb}[group](base)


if __name__ == "__main__":
    main(sys.argv[1:])
