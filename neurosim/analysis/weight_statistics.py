"""Weight statistics of a stored run: how sparse, large and spread each model's learnt weights are,
bio model beside twin (a local rule's weights are often bounded, normalised or clipped where
backprop's are not, and a pruned or winner-take-all layer has many exact zeros).

A model's *weight tensors* are the floating-point tensors of two or more dimensions in its state
(weight matrices and convolution kernels, trained or fixed, parameters or buffers); biases,
thresholds and other one-dimensional state are left out. For each tensor ``w`` of every member and
seed (:func:`weight_statistics`):

* ``count``: the number of weights;
* ``zero_fraction``: the fraction exactly 0 (connection sparsity, NeuroBench's name);
* ``mean`` and ``std`` (population, ``ddof = 0``) of the weights, and ``abs_max = max |w|``.

Units: ``count`` is a count, ``zero_fraction`` a fraction; the others are in the model's own weight
units (not comparable across models unless their inputs are scaled alike, hence the histogram).

Stored as ``analyses/weight_statistics.nc``: ``weights__<member>`` with dims ``(measure, seed,
tensor__<member>)`` (the measures of :data:`MEASURES`, the tensors' state-dict names), and
``histogram (model, seed, bin)``: the fraction of each member's first-layer weights
(``first_layer_weights()``, ``[units, inputs]``) in each of :data:`N_BINS` equal bins of
``w / max |w|`` over [-1, 1] (coordinate ``bin_centre``), so shapes compare across scales.

Registered as :data:`ANALYSIS` (``neurosim analyse RUN --analyses weight_statistics``; report
section: a table per member and tensor, and a histogram figure per pair). Stored models are loaded
inside the compute function only (:mod:`neurosim.analysis.study`). No stimuli: ``n_stimuli`` is
unused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis import N_STIMULI
from neurosim.analysis.statistics import format_mean_ci
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis
from neurosim.analysis.study import Analysis, Page, figure_per_group

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

MEASURES = ("count", "zero_fraction", "mean", "std", "abs_max")
N_BINS = 40


def weight_statistics(weights: torch.Tensor) -> list[float]:
    """The :data:`MEASURES` of one weight tensor (any shape), in that order."""
    w = weights.detach().to(torch.float64).flatten()
    return [
        float(w.numel()),
        float((w == 0).double().mean()),
        float(w.mean()),
        float(w.std(correction=0)),
        float(w.abs().max()),
    ]


def normalised_histogram(weights: torch.Tensor, n_bins: int = N_BINS) -> np.ndarray:
    """``[n_bins]``: the fraction of ``weights`` in each equal bin of ``w / max |w|`` over [-1, 1]
    (all in the middle bins for an all-zero tensor)."""
    w = weights.detach().to(torch.float64).flatten().numpy()
    largest = np.abs(w).max() or 1.0
    counts, _ = np.histogram(w / largest, bins=n_bins, range=(-1.0, 1.0))
    return counts / len(w)


def weight_tensors(model: NeurosimModel) -> dict[str, torch.Tensor]:
    """The model's weight tensors (module docstring), by state-dict name, in state-dict order."""
    return {
        name: tensor
        for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and tensor.dim() >= 2
    }


def analyse_weight_statistics(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Weight statistics of every member and seed of a stored run; stored and returned."""
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    config, task = load_run(run_dir)
    names, seeds = [m.name for m in config.members], list(config.seeds)
    variables: dict[str, xr.DataArray] = {}
    histogram = np.zeros((len(names), len(seeds), N_BINS))
    for m, member in enumerate(config.members):
        measures, tensors = [], []  # per seed: [tensor, measure]
        for s, seed in enumerate(seeds):
            model = load_fitted_model(run_dir, member, task, seed)
            weights = weight_tensors(model)
            tensors = list(weights)
            measures.append([weight_statistics(w) for w in weights.values()])
            histogram[m, s] = normalised_histogram(model.first_layer_weights())
        variables[f"weights__{member.name}"] = xr.DataArray(
            np.array(measures).transpose(2, 0, 1),  # [seed, tensor, measure] -> [measure, seed, tensor]
            dims=("measure", "seed", f"tensor__{member.name}"),
            coords={"measure": list(MEASURES), "seed": seeds, f"tensor__{member.name}": tensors},
            attrs={"long_name": "weight statistics per tensor (units: module docstring)"},
        )
    edges = np.linspace(-1.0, 1.0, N_BINS + 1)
    variables["histogram"] = xr.DataArray(
        histogram,
        dims=("model", "seed", "bin"),
        coords={"model": names, "seed": seeds, "bin_centre": ("bin", (edges[:-1] + edges[1:]) / 2)},
        attrs={"long_name": "fraction of first-layer weights per bin of w / max|w|", "units": "1"},
    )
    attrs = analysis_attrs("weight_statistics", 0, task, config)
    attrs["stimuli"] = "none (the stored weights)"
    return save_analysis(run_dir, "weight_statistics", xr.Dataset(variables, attrs=attrs))


def weight_histograms(stored: xr.Dataset, members: list[str], title: str) -> Figure:
    """Step histograms of ``members``' first-layer ``w / max |w|`` (mean over seeds)."""
    figure = Figure(figsize=(5.2, 3.4))
    axis = figure.subplots()
    edges = np.linspace(-1.0, 1.0, stored.sizes["bin"] + 1)
    for member in members:
        fractions = stored.histogram.sel(model=member).mean("seed").values
        axis.stairs(fractions, edges, linewidth=1.5, label=member)
    axis.set_xlabel("first-layer weight / largest |weight| (1)")
    axis.set_ylabel("fraction of weights")
    axis.set_xlim(-1, 1)
    axis.set_title(title, fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    return figure


def weight_statistics_section(page: Page, stored: xr.Dataset, results: xr.Dataset) -> None:
    """A table per member and weight tensor and a histogram figure per pair (``results``, the run's
    results, are not needed)."""
    page.heading("Weight statistics (stored models)")
    page.paragraph(
        "Every weight matrix or kernel of each stored model (biases and thresholds left out): the "
        "fraction of weights exactly 0 (connection sparsity), their mean, standard deviation and "
        "largest magnitude, in the model's own weight units. Values: mean [95 % CI] over seeds. The "
        "histograms divide each model's first-layer weights by their largest magnitude, so that "
        "their shapes compare across scales."
    )
    rows = []
    for member in [str(m) for m in stored.model.values]:
        weights = stored[f"weights__{member}"]
        for tensor in [str(t) for t in weights[f"tensor__{member}"].values]:
            values = weights.sel({f"tensor__{member}": tensor})
            count = int(values.sel(measure="count").values[0])
            rows.append(
                [member, tensor, f"{count:,}"]
                + [format_mean_ci(values.sel(measure=m).values) for m in MEASURES[1:]]
            )
    measures = ["fraction zero", "mean", "standard deviation", "largest magnitude"]
    page.table(["model", "tensor", "weights", *measures], rows)
    caption = "first-layer weights relative to their largest magnitude (mean over seeds)"
    figure_per_group(page, stored, weight_histograms, "weight_histogram", caption)


ANALYSIS = Analysis(
    name="weight_statistics",
    description="sparsity, mean, spread and largest magnitude of every weight tensor",
    compute=analyse_weight_statistics,
    section=weight_statistics_section,
)
