"""Receptive fields measured from responses: spike-triggered averages of first-layer units to white
noise, the method of physiology, applicable to every model (spiking or not, with or without
readable weights).

E. J. Chichilnisky, "A simple white noise analysis of neuronal light responses", Network 12:199
(2001). For white-noise stimuli ``s_1..s_n`` (each pixel i.i.d. uniform in [0, 1], the models'
input range) and a unit's response ``r(s)`` (its spike count over the presentation for a spiking
layer, its rectified output otherwise)::

    STA = sum_k r(s_k) (s_k - mean_s) / sum_k r(s_k)

For a linear-nonlinear unit ``r = f(w . s)`` with white noise, ``STA`` is proportional to ``w``
(Bussgang), so the cosine between the STA and the unit's first-layer weights (where the model
has one weight row per unit, ``first_layer_weights()``) says how linear its input stage is; for a spiking
unit it tests that spikes follow the weights. A unit that never responds has no STA (NaN).

Responses: the model's first probe point after a nonlinearity
(:func:`neurosim.analysis.v1_layer.v1_responses`; a convolutional layer's channels at the centre
position). A class readout (the perceptron's only layer,
:func:`neurosim.analysis.v1_layer.v1_exclusion`) keeps its STAs and cosines (the linearity check
holds for any layer), but its STAs are class templates, not V1 receptive fields: the attribute
``excluded__<member>`` says so and the report shows it. Stored as
``analyses/receptive_fields.nc``: ``sta (model, seed, unit, input)`` for the first
:data:`MAX_UNITS` units (``input`` flattened from the attribute ``input_shape``, pixel intensity
per unit response), and ``sta_weight_cosine (model, seed, unit)`` (NaN without a matching weight
matrix); attributes ``layer__<member>``, ``excluded__<member>`` (why it is no V1 analogue, or "")
and ``units__<member>`` (units recorded; the rest of the ``unit`` axis is NaN padding). Registered as
:data:`ANALYSIS` (report section: an STA mosaic per member and a table of STA-weight cosines); stored
models are loaded inside the compute function only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis import N_STIMULI
from neurosim.analysis.statistics import format_mean_ci
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.study import Analysis, Page
from neurosim.analysis.v1_layer import v1_exclusion, v1_responses

N_NOISE = 10000
MAX_UNITS = 64
NOISE_SEED = 0


def white_noise(n: int, shape: tuple[int, ...], seed: int = NOISE_SEED) -> torch.Tensor:
    """``[n, *shape]`` images with i.i.d. uniform [0, 1] pixels from a fixed generator."""
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


def spike_triggered_average(stimuli: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """``[units, input]``: the response-weighted mean of the mean-subtracted stimuli ``[n, ...]``
    for responses ``[n, units]`` (non-negative); NaN rows for units that never responded."""
    s = stimuli.reshape(len(stimuli), -1).to(torch.float64)
    r = responses.to(torch.float64)
    total = r.sum(0)  # [units]
    sta = r.T @ (s - s.mean(0, keepdim=True)) / total[:, None]
    return torch.where(total[:, None] > 0, sta, torch.full_like(sta, float("nan")))


def cosine_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of matching rows (NaN where either row is NaN or zero)."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def analyse_receptive_fields(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Spike-triggered averages of every member's first layer to white noise; stored and returned.

    ``n_stimuli`` is unused: the stimuli are :data:`N_NOISE` white-noise images.
    """
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    config, task = load_run(run_dir)
    noise = white_noise(N_NOISE, tuple(task.input_shape))
    names, seeds = [m.name for m in config.members], list(config.seeds)
    inputs = int(np.prod(task.input_shape))
    sta = np.full((len(names), len(seeds), MAX_UNITS, inputs), np.nan, dtype=np.float32)
    cosine = np.full((len(names), len(seeds), MAX_UNITS), np.nan)
    layers, units, excluded = {}, {}, {}
    for m, member in enumerate(config.members):
        for s, seed in enumerate(seeds):
            model = load_fitted_model(run_dir, member, task, seed)
            layer, responses = v1_responses(model, noise)
            layers[member.name] = layer
            excluded[member.name] = v1_exclusion(model, layer, noise)
            averages = spike_triggered_average(noise, responses[:, :MAX_UNITS])
            units[member.name] = len(averages)
            sta[m, s, : len(averages)] = averages.numpy()
            # The weights the fit stores; comparable when each unit has a row over the whole input
            # (not a convolution kernel, which sees a patch).
            weights = model.first_layer_weights().detach().float().cpu()
            if weights[0].numel() == inputs and len(weights) >= len(averages):
                rows = weights[: len(averages)].reshape(len(averages), inputs)
                cosine[m, s, : len(averages)] = cosine_rows(averages, rows).numpy()
    attrs = analysis_attrs("receptive_fields", N_NOISE, task, config)
    attrs["stimuli"] = f"{N_NOISE} white-noise images (i.i.d. uniform [0, 1] pixels, seed {NOISE_SEED})"
    attrs["input_shape"] = json.dumps(list(task.input_shape))
    attrs.update({f"layer__{name}": layer for name, layer in layers.items()})
    attrs.update({f"units__{name}": count for name, count in units.items()})
    attrs.update({f"excluded__{name}": reason for name, reason in excluded.items()})
    dataset = xr.Dataset(
        {
            "sta": (
                ("model", "seed", "unit", "input"),
                sta,
                {"long_name": "spike-triggered average (response-weighted, mean-subtracted noise)"},
            ),
            "sta_weight_cosine": (
                ("model", "seed", "unit"),
                cosine,
                {"long_name": "cosine between a unit's STA and its first-layer weights", "units": "1"},
            ),
        },
        coords={"model": names, "seed": seeds, "unit": np.arange(MAX_UNITS), "input": np.arange(inputs)},
        attrs=attrs,
    )
    return save_analysis(run_dir, "receptive_fields", dataset)


def stored_receptive_fields(run_dir: str | Path) -> xr.Dataset | None:
    """The stored receptive-field analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "receptive_fields")


def sta_mosaic(receptive_fields: xr.Dataset, member: str, n_units: int = 16) -> Figure:
    """Spike-triggered averages of the first ``n_units`` units (first seed), each on its own
    symmetric colour scale (the first channel of a multi-channel input)."""
    shape = json.loads(receptive_fields.attrs["input_shape"])
    sta = receptive_fields.sta.sel(model=member).isel(seed=0).values[:n_units]
    columns = min(8, len(sta))
    rows = math.ceil(len(sta) / columns)
    figure = Figure(figsize=(1.2 * columns, 1.25 * rows + 0.4))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis, unit in zip(axes.ravel(), sta, strict=False):
        image = unit.reshape(shape)[0] if len(shape) == 3 else unit.reshape(1, -1)
        limit = np.nanmax(np.abs(image)) if np.isfinite(image).any() else 1.0
        axis.imshow(np.nan_to_num(image), cmap="RdBu_r", vmin=-limit, vmax=limit)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{member}: spike-triggered averages (white noise)", fontsize=8)
    return figure


def _v1_note(excluded: str) -> str:
    """The table's "V1 analogue" cell: "yes", or "no" with the reason the layer is excluded."""
    return f"no ({excluded})" if excluded else "yes"


def receptive_fields_section(page: Page, receptive_fields: xr.Dataset, results: xr.Dataset) -> None:
    """STA mosaics of each member's first layer and how well the STAs follow the weights
    (``results``, the run's results, are not needed)."""
    page.heading(f"Receptive fields from white noise ({receptive_fields.attrs['stimuli']}; stored models)")
    page.paragraph(
        "Spike-triggered average (Chichilnisky 2001) of each first-layer unit: the response-weighted "
        "mean of the mean-subtracted noise images (spike counts for spiking units). For a unit that "
        "sums its weighted input before a non-linearity the STA is proportional to its weights, so "
        "the cosine between the two measures how linear the unit's input stage is (blank where the "
        "model stores no matching weight matrix). A class readout's STAs are templates of its classes, "
        "not V1 receptive fields (noted per member)."
    )
    rows = []
    for member in [str(m) for m in receptive_fields.model.values]:
        cosine = receptive_fields.sta_weight_cosine.sel(model=member).values  # [seed, unit]
        units = int(receptive_fields.attrs.get(f"units__{member}", receptive_fields.sizes["unit"]))
        responsive = np.isfinite(receptive_fields.sta.sel(model=member).values[:, :units, 0])
        rows.append(
            [
                member,
                str(receptive_fields.attrs.get(f"layer__{member}", "")),
                f"{responsive.mean():.3f}",
                format_mean_ci(np.nanmedian(cosine, axis=1)) if np.isfinite(cosine).any() else "",
                _v1_note(str(receptive_fields.attrs.get(f"excluded__{member}", ""))),
            ]
        )
        page.figure(
            sta_mosaic(receptive_fields, member),
            f"sta_{member}.png",
            f"{member}: spike-triggered averages of the first 16 units (first seed)",
        )
    page.table(["model", "layer", "responsive units", "median cosine(STA, weights)", "V1 analogue"], rows)


ANALYSIS = Analysis(
    name="receptive_fields",
    description="spike-triggered averages from white noise",
    compute=analyse_receptive_fields,
    section=receptive_fields_section,
)
