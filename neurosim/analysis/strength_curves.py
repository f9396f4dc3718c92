"""Accuracy against the strength of a perturbation, for every member and seed of a stored run.

The robustness and tolerance analyses share this: each names its perturbations and strengths and
a function that gives one model's accuracy at every strength, and gets back one Dataset:
``accuracy`` with dims ``(perturbation, strength_index, model, seed)`` and coordinate
``strength (perturbation, strength_index)`` (NaN where a perturbation has fewer strengths).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis
from neurosim.evaluation import accuracy
from neurosim.models.base import NeurosimModel
from neurosim.run_loading import load_fitted_model
from neurosim.tasks import Task

Strengths = dict[str, tuple[float, ...]]
#: ``(model, x, y, strengths) -> {perturbation: [accuracy at each strength]}``
CurvesOfModel = Callable[[NeurosimModel, torch.Tensor, torch.Tensor, Strengths], dict[str, list[float]]]


def accuracy_curve(strengths: tuple[float, ...], accuracy_at: Callable[[float], float]) -> list[float]:
    """``accuracy_at(s)`` at every strength ``s``, strength 0 included: it goes through the
    perturbation like any other, so a perturbation that is not the identity at 0 shows there
    (the tests compare it with the clean accuracy)."""
    return [accuracy_at(s) for s in strengths]


def perturbed_accuracy(
    model: NeurosimModel,
    x: torch.Tensor,
    y: torch.Tensor,
    perturb: Callable[[torch.Tensor, float], torch.Tensor],
) -> Callable[[float], float]:
    """``s -> accuracy of model on perturb(x, s)``."""
    return lambda strength: accuracy(model, perturb(x, strength), y)


def analyse_strength_curves(
    run_dir: str | Path,
    name: str,
    strengths_of_task: Callable[[Task], Strengths],
    curves_of_model: CurvesOfModel,
    n_stimuli: int,
    extra_attrs: Callable[[dict[str, dict[str, list[float]]]], dict] | None = None,
) -> xr.Dataset:
    """Run ``curves_of_model`` on every stored model of a run and store ``analyses/<name>.nc``.

    Args:
        run_dir: a finished run.
        name: the analysis name (file name and ``analysis`` attribute).
        strengths_of_task: the task -> strengths of every perturbation, in the order the curves
            give them.
        curves_of_model: one model's curves at those strengths.
        n_stimuli: the first ``n_stimuli`` test images are the stimuli.
        extra_attrs: every member's curves (``{member: curves}`` of its last seed) -> extra attributes.
    """
    config, task = load_run(run_dir)
    x, y = task.x_test[:n_stimuli], task.y_test[:n_stimuli]
    table = strengths_of_task(task)
    curves = {
        member.name: [
            curves_of_model(load_fitted_model(run_dir, member, task, seed), x, y, table)
            for seed in config.seeds
        ]
        for member in config.members
    }
    last = {member: per_seed[-1] for member, per_seed in curves.items()}
    attrs = {**analysis_attrs(name, len(x), task, config), **(extra_attrs(last) if extra_attrs else {})}
    return save_analysis(run_dir, name, strength_curves_dataset(table, curves, list(config.seeds), attrs))


def strength_curves_dataset(
    table: Strengths, curves: dict[str, list[dict[str, list[float]]]], seeds: list[int], attrs: dict
) -> xr.Dataset:
    """The Dataset of the module docstring from ``curves[member][seed index][perturbation]``."""
    names, perturbations = list(curves), list(table)
    width = max(len(v) for v in table.values())
    accuracy = np.full((len(perturbations), width, len(names), len(seeds)), np.nan)
    for m, name in enumerate(names):
        for s, seed_curves in enumerate(curves[name]):
            for p, perturbation in enumerate(perturbations):
                accuracy[p, : len(seed_curves[perturbation]), m, s] = seed_curves[perturbation]
    strength = np.full((len(perturbations), width), np.nan)
    for p, perturbation in enumerate(perturbations):
        strength[p, : len(table[perturbation])] = table[perturbation]
    return xr.Dataset(
        {"accuracy": (("perturbation", "strength_index", "model", "seed"), accuracy)},
        coords={
            "perturbation": perturbations,
            "strength": (("perturbation", "strength_index"), strength),
            "model": names,
            "seed": seeds,
        },
        attrs=attrs,
    )
