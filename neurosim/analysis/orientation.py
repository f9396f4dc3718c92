"""Orientation tuning of each model's first layer from sinusoidal gratings, and the orientation
selectivity index (OSI) per unit: the measurement behind "CNN filters look like V1".

Stimuli: full-field sinusoidal gratings ``0.5 + 0.5 cos(2 pi (x cos t + y sin t) / period + phase)``
(pixel intensities in [0, 1], the image size and channels of the run's task) at
:data:`N_ORIENTATIONS` orientations ``t`` evenly spaced over 180 degrees, the periods of
:data:`PERIODS_PER_28` (pixels per cycle for a 28-pixel-wide image, scaled with the width) and
:data:`N_PHASES` phases. 16 x 4 x 8 = 512 images.

Response of a unit: its output at the model's first probe point (input side; spike counts for a
spiking layer, see :func:`~neurosim.analysis.activity.record_activity`), rectified (``max(r, 0)``:
several probe points record a layer's input current before its non-linearity), at the centre
position for a convolutional layer (a full-field grating drives every position alike, up to phase).
Tuning curve ``R(t)``: the mean over phases at the unit's preferred period (the one with the
largest mean response). Then (Ringach, Shapley & Hawken, J. Neurosci. 22:5639, 2002)::

    OSI = 1 - circular variance = | sum_t R(t) exp(2 i t) | / sum_t R(t)

0 for a unit that responds equally to every orientation, 1 for one that responds to a single
orientation. Ringach et al. found macaque V1 cells broadly distributed over the whole range; a
model whose units all sit near 0 or all near 1 is unlike V1. A unit that no grating drives
(``sum_t R(t) = 0``) has no OSI (NaN) and is counted as unresponsive.

Stored as ``analyses/orientation.nc``: ``osi`` and ``preferred_orientation`` (degrees) with dims
``(model, seed, unit)`` (NaN beyond a model's number of units), attributes ``layer__<member>``
(the probe point used) and ``responsive__<member>`` (fraction of units with an OSI, all seeds).
Registered as :data:`ANALYSIS` (report section: a table of OSI per member and an OSI histogram per
pair); stored models are loaded inside the compute function only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis import N_STIMULI
from neurosim.analysis.activity import record_activity
from neurosim.analysis.statistics import format_mean_ci
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.study import Analysis, Page, figure_per_group
from neurosim.errors import UserError

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

N_ORIENTATIONS = 16
PERIODS_PER_28 = (4.0, 6.0, 8.0, 12.0)
N_PHASES = 8


def orientations() -> torch.Tensor:
    """The grating orientations, radians, ``[N_ORIENTATIONS]`` over [0, pi)."""
    return torch.arange(N_ORIENTATIONS, dtype=torch.float64) * math.pi / N_ORIENTATIONS


def gratings(input_shape: tuple[int, ...]) -> torch.Tensor:
    """Every grating for inputs of ``input_shape`` ``(C, H, W)``: ``[O, F, P, C, H, W]`` (orientation,
    period, phase), float32 in [0, 1]."""
    channels, height, width = input_shape
    periods = torch.tensor(PERIODS_PER_28, dtype=torch.float64) * width / 28
    phases = torch.arange(N_PHASES, dtype=torch.float64) * 2 * math.pi / N_PHASES
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64) - (height - 1) / 2,
        torch.arange(width, dtype=torch.float64) - (width - 1) / 2,
        indexing="ij",
    )
    t = orientations()[:, None, None, None, None]
    along = x * torch.cos(t) + y * torch.sin(t)  # [O, 1, 1, H, W]
    argument = 2 * math.pi * along / periods[None, :, None, None, None] + phases[None, None, :, None, None]
    images = 0.5 + 0.5 * torch.cos(argument)  # [O, F, P, H, W]
    return images[:, :, :, None].expand(-1, -1, -1, channels, -1, -1).float()


def orientation_selectivity(tuning: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """``|sum R exp(2 i t)| / sum R`` per unit for non-negative ``tuning`` ``[units, O]`` at
    ``angles`` ``[O]`` (radians); NaN where ``sum R = 0``."""
    tuning = tuning.double()
    total = tuning.sum(1)
    real = (tuning * torch.cos(2 * angles)).sum(1)
    imaginary = (tuning * torch.sin(2 * angles)).sum(1)
    # |sum R e^{2it}| <= sum R; clamped because rounding can exceed 1 by an ulp for one orientation.
    osi = (torch.sqrt(real**2 + imaginary**2) / total).clamp(max=1.0)
    return torch.where(total > 0, osi, torch.full_like(osi, float("nan")))


def preferred_orientation(tuning: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """The orientation (degrees, [0, 180)) of the mean resultant ``sum R exp(2 i t)`` per unit;
    NaN where ``sum R = 0``."""
    tuning = tuning.double()
    real = (tuning * torch.cos(2 * angles)).sum(1)
    imaginary = (tuning * torch.sin(2 * angles)).sum(1)
    preferred = torch.rad2deg(torch.atan2(imaginary, real) / 2) % 180
    return torch.where(tuning.sum(1) > 0, preferred, torch.full_like(preferred, float("nan")))


def first_layer_responses(model: NeurosimModel, stimuli: torch.Tensor) -> tuple[str, torch.Tensor]:
    """``(probe point, rectified responses [n, units])`` of the model's first probe point; for a
    convolutional output ``[n, C, H, W]`` the units are the channels at the centre position."""
    name = next(iter(model.probe_points()))
    activity = record_activity(model, stimuli, names=[name], flatten=False)[name]
    if activity.ndim == 4:
        _, _, height, width = activity.shape
        activity = activity[:, :, height // 2, width // 2]
    return name, activity.reshape(len(activity), -1).clamp_min(0.0)


def tuning_curves(responses: torch.Tensor) -> torch.Tensor:
    """``[units, O]`` tuning curves from responses ``[O, F, P, units]``: mean over phases, at each
    unit's preferred period."""
    by_period = responses.mean(dim=2)  # [O, F, units]
    preferred = by_period.mean(dim=0).argmax(dim=0)  # [units]
    return by_period.gather(1, preferred[None, None, :].expand(by_period.shape[0], 1, -1))[:, 0].T


def first_layer_tuning(model: NeurosimModel, stimuli: torch.Tensor) -> tuple[str, torch.Tensor, torch.Tensor]:
    """``(probe point, OSI [units], preferred orientation [units] in degrees)`` of the model's first
    layer, from its responses to the gratings ``stimuli`` ``[O, F, P, C, H, W]`` (:func:`gratings`)."""
    layer, responses = first_layer_responses(model, stimuli.reshape(-1, *stimuli.shape[3:]))
    tuning = tuning_curves(responses.reshape(*stimuli.shape[:3], -1))
    angles = orientations()
    return layer, orientation_selectivity(tuning, angles), preferred_orientation(tuning, angles)


def analyse_orientation(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Orientation tuning of every member's first layer, every seed; stored and returned.

    ``n_stimuli`` is unused: the stimuli are the gratings (kept for the common analysis signature).
    """
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    config, task = load_run(run_dir)
    if len(task.input_shape) != 3:
        raise UserError(
            f"orientation tuning needs image inputs; task {task.name!r} has inputs of shape "
            f"{task.input_shape}"
        )
    stimuli = gratings(task.input_shape)
    grid = stimuli.shape[:3]
    names, seeds = [m.name for m in config.members], list(config.seeds)
    results: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    layers: dict[str, str] = {}
    for member in config.members:
        results[member.name] = []
        for seed in seeds:
            model = load_fitted_model(run_dir, member, task, seed)
            layer, unit_osi, unit_preferred = first_layer_tuning(model, stimuli)
            layers[member.name] = layer
            results[member.name].append((unit_osi, unit_preferred))
    width = max(len(osi) for runs in results.values() for osi, _ in runs)
    osi = np.full((len(names), len(seeds), width), np.nan)
    preferred = np.full_like(osi, np.nan)
    for m, name in enumerate(names):
        for s, (unit_osi, unit_preferred) in enumerate(results[name]):
            osi[m, s, : len(unit_osi)] = unit_osi.numpy()
            preferred[m, s, : len(unit_osi)] = unit_preferred.numpy()
    attrs = analysis_attrs("orientation", int(np.prod(grid)), task, config)
    attrs["stimuli"] = (
        f"{np.prod(grid)} full-field sinusoidal gratings ({N_ORIENTATIONS} orientations, "
        f"{len(PERIODS_PER_28)} periods, {N_PHASES} phases)"
    )
    for m, name in enumerate(names):
        attrs[f"layer__{name}"] = layers[name]
        units = sum(len(unit_osi) for unit_osi, _ in results[name])
        attrs[f"responsive__{name}"] = float(np.sum(~np.isnan(osi[m]))) / units
    dataset = xr.Dataset(
        {
            "osi": (
                ("model", "seed", "unit"),
                osi,
                {"long_name": "orientation selectivity index", "units": "1"},
            ),
            "preferred_orientation": (
                ("model", "seed", "unit"),
                preferred,
                {"long_name": "preferred orientation", "units": "degree"},
            ),
        },
        coords={"model": names, "seed": seeds, "unit": np.arange(width)},
        attrs=attrs,
    )
    return save_analysis(run_dir, "orientation", dataset)


def stored_orientation(run_dir: str | Path) -> xr.Dataset | None:
    """The stored orientation analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "orientation")


def osi_histograms(orientation: xr.Dataset, members: list[str], title: str) -> Figure:
    """Distribution of the orientation selectivity index over first-layer units (all seeds pooled),
    one step histogram per member, as the fraction of responsive units per bin."""
    figure = Figure(figsize=(5.2, 3.4))
    axis = figure.subplots()
    bins = np.linspace(0, 1, 21).tolist()
    for member in members:
        values = orientation.osi.sel(model=member).values.ravel()
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        weights = np.full(len(values), 1 / len(values))
        layer = orientation.attrs.get(f"layer__{member}", "")
        axis.hist(
            values,
            bins=bins,
            weights=weights,
            histtype="step",
            linewidth=1.5,
            label=f"{member} ({layer}; median {np.median(values):.2f})",
        )
    axis.set_xlabel("orientation selectivity index (1 - circular variance)")
    axis.set_ylabel("fraction of responsive units")
    axis.set_xlim(0, 1)
    axis.set_title(title, fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    return figure


def orientation_section(page: Page, orientation: xr.Dataset, results: xr.Dataset) -> None:
    """OSI histograms of each pair's first layers and a table of the OSI per member (``results``,
    the run's results, are not needed)."""
    page.heading("Orientation tuning of the first layer (gratings; stored models)")
    page.paragraph(
        f"Stimuli: {orientation.attrs['stimuli']}. A unit's response is its rectified output at the "
        "model's first probe point (the centre position of a convolutional layer); its tuning curve is "
        "the mean over phases at its preferred period, and OSI = 1 - circular variance (Ringach et "
        "al. 2002). Macaque V1 cells are broadly distributed over 0-1 (Ringach et al. 2002); "
        "a layer whose units all sit at one end is unlike V1. Unresponsive units (no grating drives "
        "them) have no OSI."
    )
    rows = []
    for member in [str(m) for m in orientation.model.values]:
        osi = orientation.osi.sel(model=member).values  # [seed, unit]
        rows.append(
            [
                member,
                str(orientation.attrs.get(f"layer__{member}", "")),
                f"{orientation.attrs.get(f'responsive__{member}', float('nan')):.3f}",
                format_mean_ci(np.nanmedian(osi, axis=1)),
                format_mean_ci(np.array([np.mean(row[~np.isnan(row)] > 0.5) for row in osi])),
            ]
        )
    page.table(["model", "layer", "responsive units", "median OSI", "fraction with OSI > 0.5"], rows)
    caption = "orientation selectivity of first-layer units (all seeds)"
    figure_per_group(page, orientation, osi_histograms, "osi", caption)


ANALYSIS = Analysis(
    name="orientation",
    description="first-layer orientation tuning from gratings, OSI",
    compute=analyse_orientation,
    section=orientation_section,
)
