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
from neurosim.models.base import NeurosimModel
from neurosim.runner import load_fitted_model
from neurosim.tasks import Task

#: ``(model, x, y) -> {perturbation: [accuracy at each strength]}``
CurvesOfModel = Callable[[NeurosimModel, torch.Tensor, torch.Tensor], dict[str, list[float]]]


def analyse_strength_curves(
    run_dir: str | Path,
    name: str,
    strengths: Callable[[Task], dict[str, tuple[float, ...]]],
    curves_of_model: Callable[[Task], CurvesOfModel],
    n_stimuli: int,
    extra_attrs: Callable[[dict[str, dict[str, list[float]]]], dict] | None = None,
) -> xr.Dataset:
    """Run ``curves_of_model`` on every stored model of a run and store ``analyses/<name>.nc``.

    Args:
        run_dir: a finished run.
        name: the analysis name (file name and ``analysis`` attribute).
        strengths: the task -> strengths of every perturbation, in the order the curves give them.
        curves_of_model: the task -> a function giving one model's curves.
        n_stimuli: the first ``n_stimuli`` test images are the stimuli.
        extra_attrs: every member's curves (``{member: curves}`` of its last seed) -> extra attributes.
    """
    config, task = load_run(run_dir)
    x, y = task.x_test[:n_stimuli], task.y_test[:n_stimuli]
    names, seeds = [m.name for m in config.members], list(config.seeds)
    table = strengths(task)
    perturbations = list(table)
    width = max(len(v) for v in table.values())
    accuracy = np.full((len(perturbations), width, len(names), len(seeds)), np.nan)
    curves_of = curves_of_model(task)
    last: dict[str, dict[str, list[float]]] = {}
    for m, member in enumerate(config.members):
        for s, seed in enumerate(seeds):
            curves = curves_of(load_fitted_model(run_dir, member, task, seed), x, y)
            last[member.name] = curves
            for p, perturbation in enumerate(perturbations):
                accuracy[p, : len(curves[perturbation]), m, s] = curves[perturbation]
    strength = np.full((len(perturbations), width), np.nan)
    for p, perturbation in enumerate(perturbations):
        strength[p, : len(table[perturbation])] = table[perturbation]
    dataset = xr.Dataset(
        {"accuracy": (("perturbation", "strength_index", "model", "seed"), accuracy)},
        coords={
            "perturbation": perturbations,
            "strength": (("perturbation", "strength_index"), strength),
            "model": names,
            "seed": seeds,
        },
        attrs={**analysis_attrs(name, len(x), task, config), **(extra_attrs(last) if extra_attrs else {})},
    )
    return save_analysis(run_dir, name, dataset)
