"""Orientation tuning of each model's first layer from sinusoidal gratings, the orientation
selectivity index (OSI) per unit, and the distance of its distribution from macaque V1's: the
measurement behind "CNN filters look like V1".

Stimuli (:mod:`neurosim.analysis.gratings`): full-field sinusoidal gratings in [0, 1], drawn as
area-averaged pixels on the task's input grid (its channels alike) and resampled by each model's
own input path, at :data:`~neurosim.analysis.gratings.N_ORIENTATIONS` orientations over 180
degrees, 4 periods of at least 2.5 pixels on the model's input
(:func:`~neurosim.analysis.gratings.periods_for`) and
:data:`~neurosim.analysis.gratings.N_PHASES` phases: 16 x 4 x 8 = 512 images. The orientation each
grating's pixels carry is measured back (plane-wave fit) and its worst error stored.

Layer and response (:mod:`neurosim.analysis.v1_layer`): the model's first probe point after a
nonlinearity, rectified, at the centre position for a convolutional layer; a class readout (the
perceptron's only layer) is excluded, with the reason stored. Tuning curve ``R(t)``: the mean
response over phases at the unit's preferred period (the one with the largest mean response).
Then (Ringach, Shapley & Hawken, J. Neurosci. 22:5639, 2002)::

    OSI = 1 - circular variance = | sum_t R(t) exp(2 i t) | / sum_t R(t)

0 for a unit that responds equally to every orientation, 1 for one that responds to a single
orientation. A unit that no grating drives (``sum_t R(t) = 0``) has no OSI (NaN) and is counted
as unresponsive. Per seed, the distance of the units' circular variances ``1 - OSI`` from the V1
reference: the one-sample Kolmogorov-Smirnov statistic (:mod:`neurosim.analysis.v1_reference`).

Stored as ``analyses/orientation.nc``: ``osi`` and ``preferred_orientation`` (degrees) with dims
``(model, seed, unit)`` (NaN beyond a model's number of units, and for an excluded member),
``cv_distance (model, seed)``; attributes ``layer__<member>`` (the probe point),
``excluded__<member>`` (why it is not compared with V1, or ""), ``responsive__<member>`` (fraction
of units with an OSI, all seeds), ``periods_px``, ``orientation_error_max_deg``, ``reference``,
``reference_short``, ``reference_citation`` and ``reference_published`` (1: the published
histogram; 0: the stand-in, against which no member is called more V1-like). Registered as
:data:`ANALYSIS`; its report section and summary cell are in
:mod:`neurosim.analysis.orientation_report`. Stored models are loaded inside the compute function
only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.gratings import (
    N_ORIENTATIONS,
    N_PHASES,
    grating_orientation_errors,
    gratings,
    orientations,
    periods_for,
)
from neurosim.analysis.orientation_report import orientation_section, orientation_summary
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.study import Analysis
from neurosim.analysis.v1_layer import v1_exclusion, v1_probe, v1_responses
from neurosim.analysis.v1_reference import ks_distance, load_reference
from neurosim.errors import UserError

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel


class LayerTuning(NamedTuple):
    """The orientation tuning of one fitted model's V1 layer."""

    layer: str  # the probe point
    excluded: str  # why it is not compared with V1, or ""
    osi: torch.Tensor  # [units]; empty when excluded
    preferred: torch.Tensor  # [units], degrees; empty when excluded


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


def tuning_curves(responses: torch.Tensor) -> torch.Tensor:
    """``[units, O]`` tuning curves from responses ``[O, F, P, units]``: mean over phases, at each
    unit's preferred period."""
    by_period = responses.mean(dim=2)  # [O, F, units]
    preferred = by_period.mean(dim=0).argmax(dim=0)  # [units]
    return by_period.gather(1, preferred[None, None, :].expand(by_period.shape[0], 1, -1))[:, 0].T


def first_layer_tuning(model: NeurosimModel, stimuli: torch.Tensor) -> LayerTuning:
    """The tuning of the model's V1 layer (:func:`~neurosim.analysis.v1_layer.v1_probe`) from its
    responses to the gratings ``stimuli`` ``[O, F, P, C, H, W]``
    (:func:`~neurosim.analysis.gratings.gratings`); nothing measured for an excluded layer."""
    flat = stimuli.reshape(-1, *stimuli.shape[3:])
    layer = v1_probe(model)
    excluded = v1_exclusion(model, layer, flat)
    if excluded:
        return LayerTuning(layer, excluded, torch.empty(0), torch.empty(0))
    _, responses = v1_responses(model, flat)
    tuning = tuning_curves(responses.reshape(*stimuli.shape[:3], -1))
    angles = orientations()
    return LayerTuning(
        layer, "", orientation_selectivity(tuning, angles), preferred_orientation(tuning, angles)
    )


def _stimulus_attrs(stimuli: torch.Tensor, width: int) -> dict:
    """What the gratings are, and the worst orientation error their pixels carry (degrees)."""
    errors = grating_orientation_errors(stimuli[:, :, :, 0].double(), orientations())
    periods = periods_for(width)
    return {
        "stimuli": (
            f"{int(np.prod(stimuli.shape[:3]))} full-field sinusoidal gratings ({N_ORIENTATIONS} "
            f"orientations, periods {', '.join(f'{p:g}' for p in periods)} px on the model's input, "
            f"{N_PHASES} phases; area-averaged pixels)"
        ),
        "periods_px": json.dumps(list(periods)),
        "orientation_error_max_deg": float(errors.max()),
    }


def _dataset(
    names: list[str], seeds: list[int], tunings: dict[str, list[LayerTuning]], attrs: dict
) -> xr.Dataset:
    """The stored result of :func:`analyse_orientation` (module docstring)."""
    reference = load_reference()
    width = max([1] + [len(t.osi) for runs in tunings.values() for t in runs])
    osi = np.full((len(names), len(seeds), width), np.nan)
    preferred, distance = np.full_like(osi, np.nan), np.full((len(names), len(seeds)), np.nan)
    for m, name in enumerate(names):
        for s, tuning in enumerate(tunings[name]):
            osi[m, s, : len(tuning.osi)] = tuning.osi.numpy()
            preferred[m, s, : len(tuning.osi)] = tuning.preferred.numpy()
            distance[m, s] = ks_distance(1 - osi[m, s], reference)
        units = sum(len(t.osi) for t in tunings[name])
        attrs[f"layer__{name}"] = tunings[name][0].layer
        attrs[f"excluded__{name}"] = tunings[name][0].excluded
        attrs[f"responsive__{name}"] = float(np.sum(~np.isnan(osi[m]))) / units if units else float("nan")
    attrs.update(
        reference=reference.label,
        reference_short=reference.short_label,
        reference_citation=reference.citation,
        reference_published=int(reference.published),
    )
    variables = {
        "osi": (("model", "seed", "unit"), osi, {"long_name": "orientation selectivity index", "units": "1"}),
        "preferred_orientation": (
            ("model", "seed", "unit"),
            preferred,
            {"long_name": "preferred orientation", "units": "degree"},
        ),
        "cv_distance": (
            ("model", "seed"),
            distance,
            {
                "long_name": "KS distance of the units' circular variance to the V1 reference",
                "units": "1",
            },
        ),
    }
    coords = {"model": names, "seed": seeds, "unit": np.arange(width)}
    return xr.Dataset(variables, coords=coords, attrs=attrs)


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
    names, seeds = [m.name for m in config.members], list(config.seeds)
    tunings = {
        member.name: [
            first_layer_tuning(load_fitted_model(run_dir, member, task, seed), stimuli) for seed in seeds
        ]
        for member in config.members
    }
    attrs = analysis_attrs("orientation", int(np.prod(stimuli.shape[:3])), task, config)
    attrs.update(_stimulus_attrs(stimuli, task.input_shape[-1]))
    return save_analysis(run_dir, "orientation", _dataset(names, seeds, tunings, attrs))


def stored_orientation(run_dir: str | Path) -> xr.Dataset | None:
    """The stored orientation analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "orientation")


ANALYSIS = Analysis(
    name="orientation",
    description="first-layer orientation tuning from gratings, OSI, distance to V1 (Ringach 2002)",
    compute=analyse_orientation,
    section=orientation_section,
    summary=orientation_summary,
)
