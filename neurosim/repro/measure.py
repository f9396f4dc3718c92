"""Running a repro card: its protocol (and ablations) as ordinary comparisons, and what they measured.

Each variant is run with :func:`neurosim.runner.run_comparison` into ``<root>/`` like any other run
(results as xarray, provenance, resumable fits), so a card that was stopped resumes and a card
run twice reuses its fits. The measurement of a run is the card's model's accuracy per seed:
``final`` (test accuracy after training), ``best_checkpoint`` (the best of the logged checkpoints,
for claims of the form "reaches") or ``final_train`` (training accuracy after training, for
theorems about the training set). Ablations are paired with the card's run seed by seed.

Intervals: a test accuracy (``final``, ``best_checkpoint``) of a run whose test-set size is stored
gets :func:`~neurosim.analysis.statistics.accuracy_interval` (a bootstrap over seeds and test
images, within [0, 1]) and an ablation's effect :func:`~neurosim.analysis.statistics.accuracy_difference`;
a training accuracy, or results without the test-set size, the t-interval over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis.statistics import Summary, accuracy_difference, accuracy_interval, mean_ci
from neurosim.repro.card import Ablation, Band, Card
from neurosim.results.predictions import n_test_images
from neurosim.results.storage import open_dataset
from neurosim.runner import ProgressFactory, dry_run, run_comparison


@dataclass(frozen=True)
class Measurement:
    """One run of the card's model: accuracy per seed, where it is stored, what it learnt."""

    run_dir: Path
    seeds: tuple[int, ...]
    accuracy: np.ndarray
    learnt: np.ndarray
    diverged: np.ndarray
    task_description: str
    provenance: dict
    n_images: int = 0
    """Test images each accuracy is a proportion of (0: unknown, or not a test accuracy)."""

    @property
    def summary(self) -> Summary:
        """Mean and 95 % interval over seeds (NaN seeds, i.e. diverged ones, left out): over seeds
        and test images when :attr:`n_images` is known, else the t-interval over seeds."""
        if self.n_images:
            return accuracy_interval(self.accuracy, self.n_images)
        return mean_ci(self.accuracy)

    @property
    def complete(self) -> bool:
        """Every seed has an accuracy (none diverged or failed to log one)."""
        return bool(np.isfinite(self.accuracy).all()) and not np.asarray(self.diverged).any()


@dataclass(frozen=True)
class AblationEffect:
    """An ablation's measurement and its paired difference from the card's run (ablation - card)."""

    ablation: Ablation
    measurement: Measurement
    delta: Summary


@dataclass(frozen=True)
class CardOutcome:
    """What running a card gave: the variant, its band and measurement, and ablation effects."""

    card: Card
    variant: str
    band: Band
    measurement: Measurement
    ablations: tuple[AblationEffect, ...]

    @property
    def within_band(self) -> bool:
        """The mean over seeds is in the band, and every seed counted (a diverged seed fails)."""
        mean = self.measurement.summary.mean
        return self.measurement.complete and not math.isnan(mean) and self.band.holds(mean)


def measurement(results: xr.Dataset, run_dir: Path, model: str, metric: str) -> Measurement:
    """The card's numbers from a run's ``results.nc``."""
    member = results.sel(model=model)
    if metric == "best_checkpoint":
        accuracy = member.test_accuracy.max("checkpoint", skipna=True).values
    elif metric == "final_train":  # the last logged training accuracy (checkpoints may be NaN-padded)
        accuracy = [_last_logged(row) for row in member.train_accuracy.transpose("seed", ...).values]
    else:
        accuracy = member.final_test_accuracy.values
    accuracy = np.asarray(accuracy, dtype=float)
    learnt = member.learnt.values if "learnt" in member else np.full(len(accuracy), -1)
    diverged = member.diverged.values if "diverged" in member else np.zeros(len(accuracy), int)
    accuracy[np.asarray(diverged, dtype=bool)] = np.nan  # a diverged fit has no number to report
    keys = ("git_sha", "neurosim_version", "torch_version", "python_version", "platform", "device", "created")
    return Measurement(
        run_dir,
        tuple(int(s) for s in results.seed.values),
        accuracy,
        np.asarray(learnt),
        np.asarray(diverged),
        str(results.attrs.get("task_description", "")),
        {k: str(results.attrs[k]) for k in keys if k in results.attrs},
        n_test_images(results) if metric != "final_train" and "confusion" in results else 0,
    )


def _last_logged(row: np.ndarray) -> float:
    """The last finite value of a checkpoint row, NaN if there is none."""
    finite = row[np.isfinite(row)]
    return float(finite[-1]) if len(finite) else math.nan


@dataclass(frozen=True)
class Execution:
    """How a card's runs are executed, which does not change what they measure: where the runs go,
    how progress is shown, processes that train fits at once (:mod:`neurosim.fit_workers`) and the
    device (``None``: the card's own)."""

    root: str | Path = "runs/repro"
    progress: ProgressFactory | None = None
    workers: int | str = 1
    device: str | None = None


def measure(card: Card, variant: str, ablation: Ablation | None, execution: Execution) -> Measurement:
    """Run (or resume) one variant of a card, with or without an ablation, and measure it."""
    config = card.comparison(variant, ablation, execution.device)
    run_dir = run_comparison(config, execution.root, execution.progress, workers=execution.workers)
    return measurement(open_dataset(run_dir / "results.nc"), run_dir, card.model, card.metric)


def paired_delta(effect: Measurement, base: Measurement) -> Summary:
    """Mean and 95 % interval of ``effect - base`` over the seeds both runs have: the bounded
    bootstrap of :func:`accuracy_difference` when both are test accuracies on the same number of
    images, else the t-interval."""
    common = [s for s in base.seeds if s in effect.seeds]
    a = np.array([effect.accuracy[effect.seeds.index(s)] for s in common])
    b = np.array([base.accuracy[base.seeds.index(s)] for s in common])
    if effect.n_images and effect.n_images == base.n_images:
        return accuracy_difference(a, b, base.n_images)
    return mean_ci(a - b)


def planned_runs(card: Card, variant: str, ablations: bool) -> list[Ablation | None]:
    """The runs of a card's variant: the protocol (``None``) and, for the ``card`` variant unless
    ``ablations`` is false, each ablation."""
    return [None, *(card.ablations() if (variant == "card" and ablations) else ())]


def check_runs(card: Card, variant: str, ablations: bool, execution: Execution) -> None:
    """Every check a run makes before it fits (data present, subsets, models build, the output
    folder), for every planned run: a card fails here, before its first fit, or not at all."""
    for ablation in planned_runs(card, variant, ablations):
        dry_run(card.comparison(variant, ablation, execution.device), root=execution.root)


def run_card(
    card: Card,
    variant: str = "card",
    execution: Execution | None = None,
    ablations: bool = True,
    checked: bool = False,
) -> CardOutcome:
    """Run a card's variant and (for the ``card`` variant, unless ``ablations`` is false) each of its
    ablations; all of them are checked first (:func:`check_runs`) unless ``checked`` says the
    caller already did."""
    execution = execution or Execution()
    planned = planned_runs(card, variant, ablations)[1:]
    if not checked:
        check_runs(card, variant, ablations, execution)
    base = measure(card, variant, None, execution)
    effects = []
    for ablation in planned:
        measured = measure(card, variant, ablation, execution)
        effects.append(AblationEffect(ablation, measured, paired_delta(measured, base)))
    return CardOutcome(card, variant, card.band(variant), base, tuple(effects))
