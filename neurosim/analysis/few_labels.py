"""Accuracy with few labels: every member of a stored run fitted again with only ``N`` labelled
training images per class, to test the claim that a bio model "learns from fewer labels".

Protocol (:func:`analyse_few_labels`). For each ``N`` of ``labels_per_class`` (default
:data:`LABELS_PER_CLASS`, 10 per class), every member and seed of the run is fitted by the runner's
own fit function (:func:`neurosim.runner.run_fit`) with the run's resolved comparison changed in
two keys only:

* ``task.n_per_class = N``: the labelled subset, ``N x C`` images for ``C`` classes
  (:meth:`~neurosim.tasks.Task.train_subset`);
* ``task.subset_seed = seed``: the subset is drawn with the fit's own seed, so that the spread over
  seeds includes which images were labelled (with one fixed draw, the dominant variance at a few
  labels per class would be left out of every interval).

Everything else is the run's: model options, optimiser and epochs, and the supervised budget is
matched to the run's: ``training.min_samples_seen`` (``epochs = max(epochs, ceil(min_samples_seen
/ (N x C)))``, the rule of a learning-curve sweep) is set, by default, to the labelled samples the
member's full-data fit presented (``epochs x N_train``, or the run's own floor if larger). So a
member trained by gradient steps takes as many steps as in the run, and only the labels are fewer:
with ``epochs x N x C`` samples (20 steps of 32 at 10 labels per class on digits) the backprop
twins measured under-training, not label efficiency (docs/few_labels.md). ``min_samples_seen=``
replaces the floor (0: the run's epochs only). A model that learns without
labels still sees the unlabelled pool the run's ``training.unsupervised_pool`` names (``all``: the
whole training split, labels unused). Accuracy is the fit's final accuracy on the run's whole test
split (its validation split when the run evaluates on validation), ``n_test`` images.

Stored as ``analyses/few_labels.nc``, each variable with dims ``(model, seed, n_per_class)``:
``accuracy`` (fraction correct), ``n_labelled`` (labelled training images, count), ``subset_seed``
(the seed of the labelled draw, read back from each fit), ``samples_seen`` (labelled samples the
supervised phase presented, count) and ``diverged`` (1 if the fit diverged; its accuracy is left
out of every summary). Attribute ``n_test``: the test images each accuracy was measured on. Every
fit is kept as a run folder's fit under ``analyses/few_labels/n<N>/`` (results, trained weights,
a checkpoint while it trains, a lock), so a killed analysis resumes where it stopped and a rerun
refits nothing (the fit's identity, :func:`~neurosim.runner.fit_hash`, decides).

Report: a table per member (accuracy at ``N`` labels per class beside the run's full-data
accuracy) and per pair (bio - twin), and the summary table's cell "accuracy at 10 labels per
class" (:func:`few_labels_summary`). Intervals: :func:`~neurosim.analysis.statistics.
accuracy_interval` and :func:`~neurosim.analysis.statistics.accuracy_difference` (a bootstrap
over seeds and test images, within [0, 1]). Model, training and runner code are imported inside
the compute function only (:mod:`neurosim.analysis.study`). See docs/few_labels.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.statistics import (
    Summary,
    accuracy_difference,
    accuracy_interval,
    better_member,
    format_accuracy,
)
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis
from neurosim.analysis.study import Analysis, Page, SummaryCell, Table
from neurosim.errors import UserError
from neurosim.pairs import stored_pair_members
from neurosim.results.schema import fit_status

if TYPE_CHECKING:
    from neurosim.config import ComparisonConfig, MemberConfig, TrainingConfig
    from neurosim.tasks import Task

log = logging.getLogger(__name__)

NAME = "few_labels"
#: Labelled training images per class the study fits at by default.
LABELS_PER_CLASS = (10,)
#: The labels per class of the report's summary column (the smallest stored one if absent).
SUMMARY_LABELS = 10
#: What is stored per fit (module docstring), in the order :func:`fit_record` returns them.
MEASURES = ("accuracy", "n_labelled", "subset_seed", "samples_seen", "diverged")
_MEANINGS = {
    "accuracy": ("1", "final test accuracy with n_per_class labelled images per class"),
    "n_labelled": ("1", "labelled training images the fit was given (n_per_class x classes)"),
    "subset_seed": ("1", "seed of the labelled subset's draw (the fit's own seed)"),
    "samples_seen": ("1", "labelled samples the supervised phase presented"),
    "diverged": ("1", "1 if the fit diverged (its accuracy is left out of summaries)"),
}


def checked_labels(labels_per_class: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The distinct labels per class in increasing order; anything but positive whole numbers
    raises :class:`UserError`."""
    values = list(labels_per_class)
    if not values or any(isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 for n in values):
        raise UserError(f"labels per class must be positive whole numbers, got {values}")
    return tuple(sorted({int(n) for n in values}))


def few_label_config(
    config: ComparisonConfig, n_per_class: int, seed: int, n_full: int, min_samples_seen: int | None = None
) -> ComparisonConfig:
    """The run's comparison with ``n_per_class`` labelled images per class drawn with ``seed``, and
    ``training.min_samples_seen`` (shared and every member's) set to ``min_samples_seen``, or, when
    ``None``, to the labelled samples the member's full-data fit presented (``epochs x n_full``, or
    the run's own floor if larger): the same supervised steps as in the run, fewer labels."""
    task = dataclasses.replace(config.task, n_per_class=n_per_class, subset_seed=seed)

    def floored(training: TrainingConfig) -> TrainingConfig:
        floor = min_samples_seen
        if floor is None:
            floor = max(training.min_samples_seen, training.epochs * n_full)
        return dataclasses.replace(training, min_samples_seen=floor)

    members = tuple(dataclasses.replace(m, training=floored(m.training)) for m in config.members)
    return dataclasses.replace(config, task=task, training=floored(config.training), members=members)


def fits_folder(run_dir: str | Path, n_per_class: int) -> Path:
    """Where the fits at ``n_per_class`` live: a run folder's ``fits/`` layout of its own."""
    return Path(run_dir) / "analyses" / NAME / f"n{n_per_class}"


def fit_record(fit: xr.Dataset) -> list[float]:
    """The :data:`MEASURES` of one stored fit, in that order."""
    subset_seed = json.loads(fit.attrs["config"])["task"]["subset_seed"]
    return [
        float(fit.final_test_accuracy),
        float(fit.attrs["n_train"]),
        float(subset_seed),
        float(fit.samples_seen.values[-1]),
        float(fit_status(fit.attrs) == "diverged"),
    ]


def take_unsupervised_phase(
    run_dir: str | Path, config: ComparisonConfig, member: MemberConfig, seed: int, directory: Path
) -> bool:
    """Start the few-label fit of ``member`` and ``seed`` from the run's own fit's unsupervised
    phase, when that fit kept it (:func:`~neurosim.run_folder.snapshot_path`, named by the run
    fit's identity) and the few-label fit has neither a result nor a checkpoint yet. Its unlabelled
    pool is the whole training split (the snapshot exists only then), and the model, seed and
    unsupervised budget are the run's: the phase is the one the few-label fit would run, so it
    resumes from a copy (with torch's random streams) and goes on exactly as if it had run the
    phase itself (``tests/test_few_labels.py`` checks bitwise equality). Returns whether it did."""
    from neurosim.run_folder import fit_path, snapshot_path
    from neurosim.runner import fit_hash

    source = snapshot_path(run_dir, member.name, seed, fit_hash(config, member, seed))
    checkpoint = fit_path(directory, member.name, seed, ".ckpt.pt")
    if not source.is_file() or checkpoint.exists() or fit_path(directory, member.name, seed).exists():
        return False
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial = checkpoint.with_name(checkpoint.name + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(checkpoint)  # atomic: a kill leaves the copy or nothing
    log.info("%s seed %d: unsupervised phase taken from the run's fit (%s)", member.name, seed, source.name)
    return True


def fit_at(
    run_dir: str | Path, config: ComparisonConfig, task: Task, n_per_class: int, min_samples_seen: int | None
) -> np.ndarray:
    """``[member, seed, measure]``: every member and seed fitted at ``n_per_class`` (or read back
    when finished; resumed from its checkpoint when interrupted), each under its fit's lock."""
    from neurosim.device import resolve_device
    from neurosim.runner import fit_under_locks, run_fit

    task.train_subset(n_per_class, 0)  # a class with fewer images raises one clear UserError here
    device = resolve_device(config.device)
    directory = fits_folder(run_dir, n_per_class)
    directory.mkdir(parents=True, exist_ok=True)
    names, seeds = [m.name for m in config.members], list(config.seeds)
    records = np.full((len(names), len(seeds), len(MEASURES)), math.nan)

    def fit(member: MemberConfig, seed: int) -> None:
        resolved = few_label_config(config, n_per_class, seed, len(task.y_train), min_samples_seen)
        take_unsupervised_phase(run_dir, config, member, seed, directory)
        dataset = run_fit(
            resolved, resolved.member(member.name), task, seed, device, directory, keep_snapshot=False
        )
        records[names.index(member.name), seeds.index(seed)] = fit_record(dataset)
        accuracy = float(dataset.final_test_accuracy)
        log.info("%s seed %d, %d labels per class: accuracy %.4f", member.name, seed, n_per_class, accuracy)

    fit_under_locks(config, directory, fit)
    return records


def analyse_few_labels(
    run_dir: str | Path,
    n_stimuli: int = N_STIMULI,
    labels_per_class: tuple[int, ...] | list[int] = LABELS_PER_CLASS,
    min_samples_seen: int | None = None,
) -> xr.Dataset:
    """Accuracy of every member and seed of a stored run with ``labels_per_class`` labelled images
    per class (module docstring); stored and returned. ``min_samples_seen``: the floor of labelled
    samples presented (``None``: each member's full-data fit's, module docstring). ``n_stimuli`` is unused:
    accuracy is measured on the whole test split, as the run's."""
    labels = checked_labels(labels_per_class)
    if min_samples_seen is not None and (isinstance(min_samples_seen, bool) or min_samples_seen < 0):
        raise UserError(f"min_samples_seen must be a whole number >= 0, got {min_samples_seen!r}")
    config, task = load_run(run_dir)
    records = np.stack([fit_at(run_dir, config, task, n, min_samples_seen) for n in labels], axis=2)
    coords = {
        "model": [m.name for m in config.members],
        "seed": list(config.seeds),
        "n_per_class": list(labels),
    }
    variables = {}
    for k, measure in enumerate(MEASURES):
        units, meaning = _MEANINGS[measure]
        values = records[..., k] if measure == "accuracy" else records[..., k].astype(np.int64)
        variables[measure] = xr.DataArray(
            values,
            dims=("model", "seed", "n_per_class"),
            coords=coords,
            attrs={"units": units, "long_name": meaning},
        )
    attrs = analysis_attrs(NAME, 0, task, config)
    attrs |= {
        "stimuli": f"the whole test split of {task.name} ({len(task.y_test)} images)",
        "n_test": len(task.y_test),
        "n_classes": task.n_classes,
        "epochs": config.training.epochs,
        "min_samples_seen": (
            f"each member's full-data samples (epochs x {len(task.y_train)})"
            if min_samples_seen is None
            else min_samples_seen
        ),
        "fits": f"analyses/{NAME}/n<N>/fits/<member>/seed<k>.nc",
    }
    return save_analysis(run_dir, NAME, xr.Dataset(variables, attrs=attrs))


def finished_accuracy(stored: xr.Dataset, member: str, n_per_class: int) -> np.ndarray:
    """``[seed]`` accuracies of ``member`` at ``n_per_class``, NaN where the fit diverged."""
    point = stored.sel(model=member, n_per_class=n_per_class)
    return np.where(point.diverged.values == 1, math.nan, point.accuracy.values)


def points(summary: Summary) -> str:
    """A difference of accuracies in percentage points, ``+1.2 [-0.3, +2.6] points`` (the report's
    accuracy column's form), or ``n/a`` without one."""
    if summary.n == 0:
        return "n/a"
    return f"{100 * summary.mean:+.1f} [{100 * summary.low:+.1f}, {100 * summary.high:+.1f}] points"


def short_accuracy(accuracies: np.ndarray, n_test: int) -> str:
    """``mean [low, high]`` of :func:`accuracy_interval` to 3 decimals (the summary table's form)."""
    summary = accuracy_interval(accuracies, n_test)
    return "n/a" if summary.n == 0 else f"{summary.mean:.3f} [{summary.low:.3f}, {summary.high:.3f}]"


def summary_labels(stored: xr.Dataset) -> int:
    """The labels per class of the summary column: :data:`SUMMARY_LABELS`, else the smallest."""
    stored_labels = [int(n) for n in stored.n_per_class.values]
    return SUMMARY_LABELS if SUMMARY_LABELS in stored_labels else min(stored_labels)


def few_labels_summary(stored: xr.Dataset, results: xr.Dataset, bio: str, twin: str) -> list[SummaryCell]:
    """The summary table's cell "accuracy at 10 labels per class" of one pair: each member's mean
    accuracy and bounded interval, and bio - twin with its interval (matched seeds); ``better``
    only when that interval excludes 0. Empty when either member was not fitted."""
    fitted = {str(m) for m in stored.model.values}
    if bio not in fitted or twin not in fitted:
        return []
    n, n_test = summary_labels(stored), int(stored.attrs["n_test"])
    accuracy = {member: finished_accuracy(stored, member, n) for member in (bio, twin)}
    difference = accuracy_difference(accuracy[bio], accuracy[twin], n_test)
    cell = SummaryCell(
        column=f"accuracy at {n} labels per class",
        bio=short_accuracy(accuracy[bio], n_test),
        twin=short_accuracy(accuracy[twin], n_test),
        difference=points(difference),
        better=better_member(difference, higher_is_better=True),
        what=f"accurate with {n} labels per class",
    )
    return [cell]


def member_table(stored: xr.Dataset, results: xr.Dataset) -> Table:
    """Per member and labels per class: labelled images, supervised samples presented (mean over
    seeds), accuracy, and the run's full-data accuracy (same test images)."""
    n_test = int(stored.attrs["n_test"])
    header = [
        "model",
        "labels per class",
        "labelled images",
        "samples presented",
        "accuracy",
        "full data (the run)",
    ]
    rows = []
    for member in [str(m) for m in stored.model.values]:
        full = results.final_test_accuracy.sel(model=member).values.astype(float)
        if "diverged" in results:
            full = np.where(results.diverged.sel(model=member).values == 1, math.nan, full)
        for n in [int(n) for n in stored.n_per_class.values]:
            point = stored.sel(model=member, n_per_class=n)
            rows.append(
                [
                    member,
                    str(n),
                    f"{int(point.n_labelled.values.max()):,}",
                    f"{float(point.samples_seen.values.mean()):,.0f}",
                    format_accuracy(finished_accuracy(stored, member, n), n_test),
                    format_accuracy(full, n_test),
                ]
            )
    return Table(header, rows)


def pair_table(stored: xr.Dataset) -> Table:
    """Per pair (bio against each twin) and labels per class: bio - twin with its interval."""
    n_test = int(stored.attrs["n_test"])
    fitted = {str(m) for m in stored.model.values}
    rows = []
    for pair, (bio, *twins) in stored_pair_members(stored.attrs).items():
        for twin in [t for t in twins if bio in fitted and t in fitted]:
            for n in [int(n) for n in stored.n_per_class.values]:
                a, b = finished_accuracy(stored, bio, n), finished_accuracy(stored, twin, n)
                difference = accuracy_difference(a, b, n_test)
                better = better_member(difference, higher_is_better=True)
                winner = {"bio": bio, "twin": twin}.get(better or "", "no decision (interval holds 0)")
                rows.append([pair, f"{bio} - {twin}", str(n), points(difference), winner])
    return Table(["pair", "bio - twin", "labels per class", "accuracy difference", "more accurate"], rows)


def budget_note(stored: xr.Dataset, results: xr.Dataset) -> str | None:
    """A warning when the fewest labelled samples a member was presented fall short of the run's
    full-data fits' (its last checkpoint's ``samples_seen``), else ``None``."""
    presented = int(stored.samples_seen.min())
    full = int(results.samples_seen.values[-1]) if "samples_seen" in results.coords else None
    if full is None or presented >= full:
        return None
    return (
        f"Budget: at the fewest labels the members were presented {presented:,} labelled samples, "
        f"the run's full-data fits {full:,} (training.min_samples_seen = "
        f"{stored.attrs.get('min_samples_seen', 0)}): a member that learns its readout by "
        "gradient steps may be under-trained here rather than short of labels. For a claim about "
        f"labels, rerun the study with min_samples_seen = {full} (docs/few_labels.md)."
    )


def few_labels_section(page: Page, stored: xr.Dataset, results: xr.Dataset) -> None:
    """The report's section: how the fits were made, a table per member and one per pair."""
    labels = ", ".join(str(int(n)) for n in stored.n_per_class.values)
    page.heading("Accuracy with few labels")
    page.paragraph(
        f"Every member and seed fitted again with only {labels} labelled training images per class, "
        "drawn with the fit's own seed (so the intervals include which images were labelled), and "
        "otherwise as in the run: same model and optimiser, and as many labelled samples presented "
        "(so as many supervised steps) as the member's full-data fit; models that learn without "
        "labels still see the run's unlabelled pool. Accuracy on the whole test split "
        f"({int(stored.attrs['n_test'])} images): mean [95 % interval], a bootstrap over seeds and "
        "test images; differences on matched seeds."
    )
    note = budget_note(stored, results)
    if note:
        page.paragraph(note)
    page.table(*member_table(stored, results))
    pairs = pair_table(stored)
    if pairs.rows:
        page.table(*pairs)


ANALYSIS = Analysis(
    name=NAME,
    description=f"accuracy with {LABELS_PER_CLASS[0]} labels per class (every member refitted)",
    compute=analyse_few_labels,
    section=few_labels_section,
    summary=few_labels_summary,
    options=("labels_per_class",),
)
