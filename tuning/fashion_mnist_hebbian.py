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
- The unsupervised controls (``controls``), so that "Hebbian, or any unsupervised pretraining?"
  is asked of a control tuned as hard as its Hebbian model: ``krotov_kmeans`` runs the Krotov
  pair's 6 settings and, as the twin, takes its best rate at the Hebbian model's beta (beta is
  matched); ``softhebb_mlp_kmeans`` has no Hebbian temperature, so its 4 settings are its readout
  temperature ``feature_t_invert`` at the Hebbian model's two values (25, 50) x the readout's rate
  (1e-3, 3e-3).
  Each control keeps the options and the unlabelled budget the pair gives it (``member_options``).

What stays as the file has it: the budgets in images presented (20 passes of the 60k for Krotov,
one for SoftHebb; ``tuning/budget_transfer.py`` checks that they converge at every size),
Krotov's centred inputs and SoftHebb's batch of 10 (both chosen by whether the units learn, the
comparison's header gives the evidence), and the shared 10 readout epochs. The full comparison
trains on the 60k; these fits train on 50k with the same images presented. Seeds 0 and 1, the
shipped budgets. Run: ``python tuning/fashion_mnist_hebbian.py [krotov] [softhebb] [controls]``
(default all three; about 60 min on 2 CPU cores for the first two, 30 for the controls; needs
Fashion-MNIST).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from neurosim.config import load_raw, resolve
from neurosim.config.resolution import UNLABELLED_KEYS
from neurosim.tuning import Setting, best, best_sharing, print_choice, study, table

COMPARISON = Path(__file__).resolve().parents[1] / "comparisons" / "fashion_mnist_hebbian.toml"
PROBE = {"seeds": [0, 1], "device": "cpu"}
KROTOV, KROTOV_TWIN = "hebbian_krotov", "krotov_backprop"
SOFTHEBB, SOFTHEBB_TWIN = "softhebb_mlp", "softhebb_mlp_backprop"
KROTOV_CONTROL, SOFTHEBB_CONTROL = "krotov_kmeans", "softhebb_mlp_kmeans"
KROTOV_GRID = tuple(itertools.product((0.03, 0.1, 0.3), (1e-3, 3e-3)))
SOFTHEBB_GRID = tuple(itertools.product((100.0, 250.0), (25.0, 50.0)))
TWIN_RATES = (3e-4, 1e-3, 3e-3, 1e-2)
CONTROL_GRID = tuple(itertools.product((25.0, 50.0), (1e-3, 3e-3)))
HEADING = "validation accuracy, mean [95 % CI] over seeds 0 and 1"


def twin_options(base: dict, twin: str) -> dict[str, object]:
    """The options the pair gives ``twin`` in the full comparison, as overrides: tuned alone, a
    twin does not get its matched keys (width, inputs, ...) from its Hebbian model."""
    (member,) = [m for m in resolve(base | {"controls": True}).members if m.name == twin]
    return {f"models.{twin}.{key}": value for key, value in member.options.items()}


def member_options(base: dict, control: str) -> dict[str, object]:
    """A control's options and unlabelled budget (its Hebbian model's, :data:`UNLABELLED_KEYS`) in
    the full comparison, as overrides: tuned alone, it would get neither."""
    (member,) = [m for m in resolve(base | {"controls": True}).members if m.name == control]
    training = {f"models.{control}.training.{key}": getattr(member.training, key) for key in UNLABELLED_KEYS}
    return twin_options(base, control) | training


def krotov_settings(base: dict, members: tuple[str, ...]) -> list[Setting]:
    """The 6 beta x rate settings, each applied to every one of ``members``."""
    fixed = dict(PROBE)
    for member in members:
        if member != KROTOV:
            fixed |= member_options(base, member)
    settings = []
    for beta, lr in KROTOV_GRID:
        overrides = dict(fixed)
        for member in members:
            overrides |= {f"models.{member}.beta": beta, f"models.{member}.training.lr": lr}
        settings.append(Setting(f"beta {beta:g}, lr {lr:g}", overrides))
    return settings


def beta(label: str) -> str:
    """The matched part of a Krotov setting's label."""
    return label.split(",")[0]


def krotov(base: dict) -> None:
    """beta x rate on both members of the Krotov pair."""
    outcomes = study(base, krotov_settings(base, (KROTOV, KROTOV_TWIN)), (KROTOV, KROTOV_TWIN))
    print(HEADING)
    print(table(outcomes, (KROTOV, KROTOV_TWIN)))
    chosen = best(outcomes, KROTOV)
    print(f"{KROTOV}: best {chosen.label}")
    twin = best_sharing(outcomes, KROTOV_TWIN, chosen, beta)
    print(f"{KROTOV_TWIN}: best rate with {beta(chosen.label)}: {twin.label}")


def controls(base: dict) -> None:
    """Each control on a grid of its Hebbian model's size (module docstring). The Krotov
    control's rate is the best at the beta the comparison gives its Hebbian model (chosen by
    :func:`krotov`)."""
    outcomes = study(base, krotov_settings(base, (KROTOV_CONTROL,)), (KROTOV_CONTROL,))
    print(HEADING)
    print(table(outcomes, (KROTOV_CONTROL,)))
    shipped = next(s for s, _ in outcomes if beta(s.label) == f"beta {base['models'][KROTOV]['beta']:g}")
    rate = best_sharing(outcomes, KROTOV_CONTROL, shipped, beta)
    print(f"{KROTOV_CONTROL}: best rate with {beta(shipped.label)}: {rate.label}\n")
    fixed = PROBE | member_options(base, SOFTHEBB_CONTROL)
    control = f"models.{SOFTHEBB_CONTROL}"
    settings = [
        Setting(
            f"feature_t_invert {t:g}, lr {lr:g}",
            fixed | {f"{control}.feature_t_invert": t, f"{control}.training.lr": lr},
        )
        for t, lr in CONTROL_GRID
    ]
    print_choice(study(base, settings, (SOFTHEBB_CONTROL,)), (SOFTHEBB_CONTROL,), HEADING)


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
    for group in groups or ["krotov", "softhebb", "controls"]:
        print(f"\n## {group}")
        {"krotov": krotov, "softhebb": softhebb, "controls": controls}[group](base)


if __name__ == "__main__":
    main(sys.argv[1:])
