"""Accuracy against the strength of a perturbation, for every member and seed of a stored run.

The robustness and tolerance analyses share this: each names its perturbations and strengths and
a function that gives one model's accuracy at every strength, and gets back one Dataset:
``accuracy`` with dims ``(perturbation, strength_index, model, seed)`` and coordinate
``strength (perturbation, strength_index)`` (NaN where a perturbation has fewer strengths).
Their report sections share :func:`strength_curves_section`: one figure per pair, one panel per
perturbation, test accuracy (fraction correct) against strength, mean over seeds and 95 % CI band.
Stored models are loaded inside :func:`analyse_strength_curves` only (see
:mod:`neurosim.analysis.study`).

A curve's summary is its normalised area (:func:`area_under_curve`): the trapezoid rule over the
strengths divided by their range, the mean accuracy over the strength interval (1 for a model
no perturbation hurts); :func:`area_cell` compares a pair's members on it for the report's
summary table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis.statistics import better_member, mean_ci, paired_difference, t_half_width
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis
from neurosim.analysis.study import Page, SummaryCell, figure_per_group
from neurosim.evaluation import accuracy

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel
    from neurosim.tasks import Task

Strengths = dict[str, tuple[float, ...]]
#: ``(model, x, y, strengths) -> {perturbation: [accuracy at each strength]}``
CurvesOfModel = Callable[["NeurosimModel", torch.Tensor, torch.Tensor, Strengths], dict[str, list[float]]]
#: The x-axis label (with units) of each perturbation's panel.
STRENGTH_LABELS = {
    "gaussian": "noise sigma (pixel intensity)",
    "salt_pepper": "fraction of pixels",
    "pgd": "eps (L-inf)",
    "fgsm": "eps (L-inf)",
    "occlusion": "occluding square side (fraction of width)",
    "translation": "shift (pixels, Chebyshev)",
    "rotation": "rotation (degrees)",
    "elastic": "elastic displacement (RMS pixels)",
}


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
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

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


def strength_curves_figure(curves: xr.Dataset, members: list[str], title: str) -> Figure:
    """Accuracy vs. perturbation strength, one panel per perturbation: mean over seeds, 95 % CI band."""
    perturbations = [str(p) for p in curves.perturbation.values]
    figure = Figure(figsize=(4.2 * len(perturbations), 3.4))
    axes = figure.subplots(1, len(perturbations))
    for axis, perturbation in zip(np.atleast_1d(axes), perturbations, strict=True):
        strength = curves.strength.sel(perturbation=perturbation).values
        keep = ~np.isnan(strength)
        for member in members:
            values = curves.accuracy.sel(perturbation=perturbation, model=member).values[
                keep
            ]  # [strength, seed]
            if np.isnan(values).all():
                continue
            mean = values.mean(axis=1)
            axis.plot(strength[keep], mean, marker="o", markersize=3, label=member)
            if values.shape[1] > 1:
                half = t_half_width(values, axis=1)
                axis.fill_between(strength[keep], mean - half, mean + half, alpha=0.2)
        axis.set_xlabel(STRENGTH_LABELS.get(perturbation, "strength"))
        axis.set_ylabel("test accuracy (fraction correct)")
        axis.set_ylim(0, 1)
        axis.set_title(f"{title}: {perturbation}", fontsize=9)
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:  # a panel where no member has a curve stays bare
            axis.legend(fontsize=7)
    return figure


def strength_curves_section(page: Page, curves: xr.Dataset, heading: str, explanation: str) -> None:
    """A report section of accuracy-vs-strength curves (robustness, tolerance, attacks): a heading
    naming the stimuli, ``explanation``, and one figure per pair (:func:`strength_curves_figure`)."""
    name = curves.attrs["analysis"]
    page.heading(f"{heading} ({curves.attrs['stimuli']}; stored models)")
    page.paragraph(explanation + " Mean over seeds with a 95 % CI band.")
    caption = f"test accuracy vs. {heading.lower()} strength"
    figure_per_group(page, curves, strength_curves_figure, name, caption)


def area_under_curve(strengths: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """``(1 / (s_max - s_min)) integral accuracy ds`` by the trapezoid rule over the strengths
    ``[K]`` (increasing), for accuracies ``[K, ...]``: one area per trailing index (NaN points
    of both are left out; NaN where fewer than two remain)."""
    strengths = np.asarray(strengths, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    keep = ~np.isnan(strengths)
    strengths, accuracy = strengths[keep], accuracy[keep]
    if len(strengths) < 2 or np.isnan(accuracy).any(axis=0).all():
        return np.full(accuracy.shape[1:], np.nan)
    return np.trapezoid(accuracy, strengths, axis=0) / (strengths[-1] - strengths[0])


def area_cell(
    curves: xr.Dataset, perturbation: str, bio: str, twin: str, column: str, what: str
) -> list[SummaryCell]:
    """The summary cell of a pair on the area under one perturbation's curve: each member's mean
    area over seeds with its t-interval, and the paired difference bio - twin over matched seeds
    (``[]`` when either member or the perturbation is missing or has no curve)."""
    names = [str(m) for m in curves.model.values]
    if perturbation not in curves.perturbation.values or bio not in names or twin not in names:
        return []
    strength = curves.strength.sel(perturbation=perturbation).values
    accuracy = curves.accuracy.sel(perturbation=perturbation)
    bio_area = area_under_curve(strength, accuracy.sel(model=bio).values)  # [seed]
    twin_area = area_under_curve(strength, accuracy.sel(model=twin).values)
    if np.isnan(bio_area).all() or np.isnan(twin_area).all():
        return []
    difference = paired_difference(bio_area, twin_area)
    interval = "" if np.isnan(difference.low) else f" [{difference.low:+.3f}, {difference.high:+.3f}]"
    return [
        SummaryCell(
            column=column,
            bio=mean_ci(bio_area[~np.isnan(bio_area)]).text(),
            twin=mean_ci(twin_area[~np.isnan(twin_area)]).text(),
            difference=f"{difference.mean:+.3f}{interval} (bio - twin)",
            better=better_member(difference, higher_is_better=True),
            what=what,
        )
    ]
