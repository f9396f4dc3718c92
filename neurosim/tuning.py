"""Choosing settings on the validation split: a grid of settings, each run as a comparison that is
evaluated on validation (``task.evaluate_on = "validation"``), tabulated, and the best taken.

The scripts under ``tuning/`` use this to re-make the choices written in shipped comparisons, so
that no setting rests on test accuracy and each choice can be reproduced with one command. Runs
are stored like any other (``runs/tuning/...``), so a study resumes where it stopped.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.analysis.statistics import mean_ci
from neurosim.config import apply_override, resolve
from neurosim.results.storage import open_dataset
from neurosim.runner import run_comparison
from neurosim.sweep.grid import override_text


@dataclass(frozen=True)
class Setting:
    """One point of a grid: a label and the ``--set`` overrides it stands for."""

    label: str
    overrides: dict[str, object]


def run_on_validation(
    base: dict, setting: Setting, members: Sequence[str], root: str | Path = "runs/tuning"
) -> Path:
    """Run ``members`` of the raw comparison ``base`` under ``setting``, evaluated on validation;
    returns the run folder.

    ``base`` is run with ``extra_models = members`` (no pairs, so only the members being tuned
    train), ``task.evaluate_on = "validation"`` and the setting's overrides.
    """
    raw = copy.deepcopy(base)
    raw["pairs"], raw["extra_models"] = [], list(members)
    raw.pop("pair_members", None)
    raw["models"] = {name: table for name, table in raw.get("models", {}).items() if name in members}
    raw.setdefault("task", {})["evaluate_on"] = "validation"
    for key, value in setting.overrides.items():
        apply_override(raw, f"{key}={override_text(value)}")
    return run_comparison(resolve(raw), root=root)


def validation_accuracy(
    base: dict, setting: Setting, members: Sequence[str], root: str | Path = "runs/tuning"
) -> dict[str, np.ndarray]:
    """Final validation accuracy per seed of each of ``members`` under ``setting`` (see
    :func:`run_on_validation`)."""
    results = open_dataset(run_on_validation(base, setting, members, root) / "results.nc")
    return {m: results.final_test_accuracy.sel(model=m).values for m in members}


def study(
    base: dict, settings: Sequence[Setting], members: Sequence[str], root: str | Path = "runs/tuning"
) -> list[tuple[Setting, dict[str, np.ndarray]]]:
    """Every setting's validation accuracies (see :func:`validation_accuracy`)."""
    return [(s, validation_accuracy(base, s, members, root)) for s in settings]


def best(outcomes: list[tuple[Setting, dict[str, np.ndarray]]], member: str) -> Setting:
    """The setting with the highest mean validation accuracy of ``member`` (the first on a tie)."""
    return max(outcomes, key=lambda outcome: float(np.mean(outcome[1][member])))[0]


def table(outcomes: list[tuple[Setting, dict[str, np.ndarray]]], members: Sequence[str]) -> str:
    """A Markdown table: one row per setting, mean [95 % CI] validation accuracy per member."""

    def cell(values: np.ndarray) -> str:
        return mean_ci(values).text()

    lines = ["| setting | " + " | ".join(members) + " |", "|---|" + "---|" * len(members)]
    for setting, accuracy in outcomes:
        lines.append(f"| {setting.label} | " + " | ".join(cell(accuracy[m]) for m in members) + " |")
    return "\n".join(lines)


def pass_budgets(members: Sequence[str], passes: Sequence[int], training_images: int) -> list[Setting]:
    """One setting per number of passes, each stated as images presented
    (``unsupervised_samples = passes * training_images`` for every member), so that a validation
    fit on fewer images takes the updates the shipped fit takes."""
    return [
        Setting(
            f"{n} passes (unsupervised_samples = {n * training_images})",
            {f"models.{m}.training.unsupervised_samples": n * training_images for m in members},
        )
        for n in passes
    ]


def print_choice(
    outcomes: list[tuple[Setting, dict[str, np.ndarray]]], members: Sequence[str], heading: str
) -> None:
    """Print ``heading``, the :func:`table` of the outcomes and each member's best setting."""
    print(heading)
    print(table(outcomes, members))
    for member in members:
        print(f"{member}: {best(outcomes, member).label}")


def choose_passes(
    comparison: Path, members: Sequence[str], passes: Sequence[int], training_images: int
) -> None:
    """Run :func:`pass_budgets` of ``members`` from a shipped comparison on validation (CPU) and
    print the choice (:func:`print_choice`)."""
    from neurosim.config import load_raw

    base = load_raw(comparison) | {"device": "cpu"}
    outcomes = study(base, pass_budgets(members, passes, training_images), members)
    print_choice(outcomes, members, "validation accuracy, mean [95 % CI] over seeds")
