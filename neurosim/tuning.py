"""Choosing settings on the validation split: a grid of settings, each run as a comparison that is
evaluated on validation (``task.evaluate_on = "validation"``), tabulated, and the best taken.

The scripts under ``tuning/`` use this to re-make the choices written in shipped comparisons, so
that no setting rests on test accuracy and each choice can be reproduced with one command. Runs
are stored like any other (``runs/tuning/...``), so a study resumes where it stopped.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

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
    base: dict, setting: Setting, members: Sequence[str] | None, root: str | Path = "runs/tuning"
) -> Path:
    """Run ``members`` of the raw comparison ``base`` under ``setting``, evaluated on validation;
    returns the run folder.

    ``base`` is run with ``extra_models = members`` (no pairs, so only the members being tuned
    train), or whole (``members = None``), with ``task.evaluate_on = "validation"`` and the
    setting's overrides.
    """
    raw = copy.deepcopy(base)
    if members is not None:
        raw["pairs"], raw["extra_models"] = [], list(members)
        raw.pop("pair_members", None)
        raw["models"] = {name: table for name, table in raw.get("models", {}).items() if name in members}
    raw.setdefault("task", {})["evaluate_on"] = "validation"
    for key, value in setting.overrides.items():
        apply_override(raw, f"{key}={override_text(value)}")
    return run_comparison(resolve(raw), root=root, workers="auto")


def validation_accuracy(results: xr.Dataset) -> dict[str, np.ndarray]:
    """Final validation accuracy per seed of every member of a validation run's ``results``."""
    return {str(m): results.final_test_accuracy.sel(model=m).values for m in results.model.values}


def study_results(
    base: dict, settings: Sequence[Setting], members: Sequence[str] | None, root: str | Path = "runs/tuning"
) -> list[tuple[Setting, xr.Dataset]]:
    """Every setting's validation run (see :func:`run_on_validation`), as its ``results.nc``."""
    return [(s, open_dataset(run_on_validation(base, s, members, root) / "results.nc")) for s in settings]


def study(
    base: dict, settings: Sequence[Setting], members: Sequence[str] | None, root: str | Path = "runs/tuning"
) -> list[tuple[Setting, dict[str, np.ndarray]]]:
    """Every setting's validation accuracies (see :func:`study_results`)."""
    return [(s, validation_accuracy(results)) for s, results in study_results(base, settings, members, root)]


def best(outcomes: list[tuple[Setting, dict[str, np.ndarray]]], member: str) -> Setting:
    """The setting with the highest mean validation accuracy of ``member`` (the first on a tie)."""
    return max(outcomes, key=lambda outcome: float(np.mean(outcome[1][member])))[0]


def best_sharing(
    outcomes: list[tuple[Setting, dict[str, np.ndarray]]],
    member: str,
    chosen: Setting,
    shared: Callable[[str], str],
) -> Setting:
    """``member``'s best setting among those whose label has the same ``shared`` part as
    ``chosen``'s: a twin's own best rate, say, once its bio model has chosen the matched keys."""
    same = [outcome for outcome in outcomes if shared(outcome[0].label) == shared(chosen.label)]
    return best(same, member)


#: A budget is cut only where that costs less than this in mean validation accuracy.
TOLERANCE = 0.01


def cheapest_within_tolerance(
    outcomes: list[tuple[Setting, dict[str, np.ndarray]]],
    member: str,
    learnt: dict[str, bool] | None = None,
    tolerance: float = TOLERANCE,
) -> Setting:
    """The first setting of ``outcomes`` (ordered cheapest first) whose mean validation accuracy
    of ``member`` is within ``tolerance`` of the best setting's (:func:`best`), among the settings
    whose fits all learnt by their convergence diagnostic (``learnt``: by setting label) when any
    did. A budget is cut only where it costs less than ``tolerance`` and the rule still converges;
    with 3 seeds a test of the difference is too weak to decide (an interval 4 points wide)."""
    candidates = outcomes
    if learnt is not None and any(learnt[setting.label] for setting, _ in outcomes):
        candidates = [outcome for outcome in outcomes if learnt[outcome[0].label]]
    target = max(float(np.mean(accuracy[member])) for _, accuracy in outcomes)  # the best's
    for setting, accuracy in candidates:
        if float(np.mean(accuracy[member])) >= target - tolerance:
            return setting
    return best(candidates, member)


def table(outcomes: list[tuple[Setting, dict[str, np.ndarray]]], members: Sequence[str]) -> str:
    """A Markdown table: one row per setting, mean [95 % CI] validation accuracy per member."""

    def cell(values: np.ndarray) -> str:
        return mean_ci(values).text()

    lines = ["| setting | " + " | ".join(members) + " |", "|---|" + "---|" * len(members)]
    for setting, accuracy in outcomes:
        lines.append(f"| {setting.label} | " + " | ".join(cell(accuracy[m]) for m in members) + " |")
    return "\n".join(lines)


def pass_budgets(members: Sequence[str], passes: Sequence[float], training_images: int) -> list[Setting]:
    """One setting per number of passes, each stated as images presented
    (``unsupervised_samples = round(passes * training_images)`` for every member), so that a
    validation fit on fewer images takes the updates the shipped fit takes."""
    settings = []
    for n in passes:
        samples = round(n * training_images)
        overrides = {f"models.{m}.training.unsupervised_samples": samples for m in members}
        settings.append(Setting(f"{n:g} passes (unsupervised_samples = {samples})", overrides))
    return settings


def print_choice(
    outcomes: list[tuple[Setting, dict[str, np.ndarray]]],
    members: Sequence[str],
    heading: str,
    learnt: dict[str, dict[str, bool]] | None = None,
) -> None:
    """Print ``heading``, the :func:`table` of the outcomes and each member's best setting; for
    budgets (settings ordered cheapest first, ``learnt[member][label]`` given), also the
    :func:`cheapest_within_tolerance`."""
    print(heading)
    print(table(outcomes, members))
    for member in members:
        line = f"{member}: best {best(outcomes, member).label}"
        if learnt is not None:
            chosen = cheapest_within_tolerance(outcomes, member, learnt[member])
            line += f"; cheapest within {TOLERANCE:g} of it (among fits that learnt, if any): {chosen.label}"
        print(line)


def choose_passes(
    comparison: Path, members: Sequence[str], passes: Sequence[float], training_images: int
) -> None:
    """Run :func:`pass_budgets` of ``members`` from a shipped comparison on validation (CPU) and
    print the choice (:func:`print_choice`): the cheapest budget within :data:`TOLERANCE` of the
    best, among those whose fits learnt (:func:`cheapest_within_tolerance`)."""
    from neurosim.config import load_raw

    base = load_raw(comparison) | {"device": "cpu"}
    runs = study_results(base, pass_budgets(members, sorted(passes), training_images), members)
    outcomes = [(setting, validation_accuracy(results)) for setting, results in runs]
    learnt = {
        member: {
            setting.label: bool((results.learnt.sel(model=member) == 1).all()) for setting, results in runs
        }
        for member in members
    }
    heading = "validation accuracy, mean [95 % CI] over seeds"
    print_choice(outcomes, members, heading, learnt)
    for member in members:
        flags = ", ".join(
            f"{label.split(' (')[0]}: {'yes' if ok else 'NO'}" for label, ok in learnt[member].items()
        )
        print(f"{member} learnt on every seed (convergence diagnostic): {flags}")
