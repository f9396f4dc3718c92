"""One function per report figure. Each reads results only and writes one PNG.

All figures: labelled axes with units, mean over seeds with a 95 % t-interval band.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.analysis.statistics import t_half_width

DPI = 110


def _save(figure: plt.Figure, path: Path, tight: bool = True) -> Path:
    if tight:
        figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def learning_curves(results: xr.Dataset, members: list[str], title: str, path: Path) -> Path:
    """Test accuracy vs. training samples seen for ``members``: mean over seeds and 95 % CI band."""
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    samples = results.samples_seen.values
    for member in members:
        accuracy = results.test_accuracy.sel(model=member).values  # [seed, checkpoint]
        mean = accuracy.mean(axis=0)
        axis.plot(samples, mean, marker="o", markersize=3, label=member)
        n = accuracy.shape[0]
        if n > 1:
            half = t_half_width(accuracy, axis=0)
            axis.fill_between(samples, mean - half, mean + half, alpha=0.2)
    axis.set_xscale("log")
    axis.set_xlabel("training samples seen (count, log scale)")
    axis.set_ylabel("test accuracy (fraction correct)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    return _save(figure, path)


def confusion_matrices(results: xr.Dataset, members: list[str], class_names: list[str], path: Path) -> Path:
    """Row-normalised test confusion matrices of ``members``, summed over seeds, one panel each
    in one image (one figure instead of one per member: each figure's layout and encoding cost
    ~0.2 s, seconds of a report with twenty members)."""
    columns = min(4, len(members))
    rows = math.ceil(len(members) / columns)
    size = max(2.6, 0.3 * len(class_names) + 1.0)  # inches per panel
    width, height = size * columns + 1.0, size * rows + 0.4
    figure, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    ticks = np.arange(len(class_names))
    for axis, member in zip(axes.flat[: len(members)], members, strict=True):
        counts = results.confusion.sel(model=member).sum("seed").values.astype(float)
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = axis.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        axis.set_xticks(ticks, class_names, rotation=60, ha="right", fontsize=6)
        axis.set_yticks(ticks, class_names, fontsize=6)
        axis.set_title(member, fontsize=8)
    for axis in axes.flat[len(members) :]:
        axis.set_axis_off()
    for axis in axes[-1]:
        axis.set_xlabel("predicted class", fontsize=7)
    for axis in axes[:, 0]:
        axis.set_ylabel("true class", fontsize=7)
    figure.tight_layout(rect=(0, 0, 0.92, 1))
    colorbar_axis = figure.add_axes((0.93, 0.15, 0.015, 0.7))
    figure.colorbar(image, cax=colorbar_axis, label="fraction of true class (row-normalised)")
    return _save(figure, path, tight=False)  # laid out above, around the colour bar


def first_layer_weights(fit: xr.Dataset, path: Path, max_units: int = 16) -> Path:
    """The first layer's weights of one fit, as images when the input is an image."""
    weights = fit.first_layer_weights.values[:max_units]
    shape = json.loads(fit.attrs["input_shape"])
    member = fit.attrs["member"]
    side = math.isqrt(weights.shape[1])
    if (
        len(shape) == 3
        and shape[0] == 1
        and weights.shape[1] != shape[1] * shape[2]
        and side * side == weights.shape[1]
    ):
        shape = [1, side, side]  # convolution filters: k x k receptive fields
    if len(shape) == 3 and shape[0] == 1 and weights.shape[1] == shape[1] * shape[2]:
        columns = min(8, len(weights))
        mosaic = unit_mosaic(weights.reshape(len(weights), shape[1], shape[2]), columns)
        rows = mosaic.shape[0] // (shape[1] + 1)
        height = 1.2 * rows + 0.6
        figure, axis = plt.subplots(figsize=(1.2 * columns + 0.4, height))
        figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.55 / height)
        axis.imshow(mosaic, cmap="RdBu_r", vmin=-1, vmax=1)
        axis.axis("off")
        axis.set_title(
            f"{member}: input weights of units 0-{len(weights) - 1}, row by row\n"
            f"(red +, blue -; {shape[1]}x{shape[2]} pixels, each unit scaled to its largest |w|)",
            fontsize=8,
        )
        return _save(figure, path, tight=False)  # the margins are set: nothing to lay out
    else:
        figure, axis = plt.subplots(figsize=(4.5, 3.2))
        limit = np.abs(weights).max() or 1.0
        image = axis.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        axis.set_xlabel("input index")
        axis.set_ylabel("first-layer unit")
        axis.set_title(f"{member}: input weights", fontsize=9)
        figure.colorbar(image, ax=axis, label="weight (dimensionless)")
    return _save(figure, path)


def unit_mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """Images ``[U, H, W]`` tiled row by row into one ``[rows (H + 1) - 1, columns (W + 1) - 1]``
    array, each divided by its largest absolute value (so in [-1, 1]), with NaN gutters (drawn
    blank). One image is much faster to draw than a grid of axes (one per unit)."""
    count, height, width = images.shape
    rows = -(-count // columns)
    mosaic = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
        limit = np.abs(image).max() or 1.0
        mosaic[top : top + height, left : left + width] = image / limit
    return mosaic


def cka_heatmaps(similarity: xr.DataArray, bio: str, twin: str, path: Path) -> Path:
    """Layer x layer CKA of ``bio`` (rows) and ``twin`` (columns), one panel per kind, mean over seeds."""
    kinds = [str(k) for k in similarity.kind.values]
    rows = [str(n) for n in similarity[f"layer__{bio}"].values]
    columns = [str(n) for n in similarity[f"layer__{twin}"].values]
    width = max(3.0, 0.7 * len(columns) + 2.0)
    figure, axes = plt.subplots(1, len(kinds), figsize=(width * len(kinds), max(2.6, 0.6 * len(rows) + 1.6)))
    for axis, kind in zip(np.atleast_1d(axes), kinds, strict=True):
        mean = similarity.sel(kind=kind).mean("seed").values
        image = axis.imshow(mean, vmin=0, vmax=1, cmap="viridis")
        for (i, j), value in np.ndenumerate(mean):
            axis.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k"
            )
        axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(rows)), rows, fontsize=7)
        axis.set_xlabel(f"{twin} layer")
        axis.set_ylabel(f"{bio} layer")
        axis.set_title(f"{kind} CKA (mean of {similarity.sizes['seed']} seeds)", fontsize=9)
        figure.colorbar(image, ax=axis, fraction=0.046)
    return _save(figure, path)


def robustness_curves(robustness: xr.Dataset, members: list[str], title: str, path: Path) -> Path:
    """Accuracy vs. perturbation strength, one panel per perturbation: mean over seeds, 95 % CI band."""
    perturbations = [str(p) for p in robustness.perturbation.values]
    figure, axes = plt.subplots(1, len(perturbations), figsize=(4.2 * len(perturbations), 3.4))
    labels = {
        "gaussian": "noise sigma (pixel intensity)",
        "salt_pepper": "fraction of pixels",
        "pgd": "eps (L-inf)",
        "fgsm": "eps (L-inf)",
        "occlusion": "occluding square side (fraction of width)",
        "translation": "shift (pixels, Chebyshev)",
        "rotation": "rotation (degrees)",
        "elastic": "elastic displacement (RMS pixels)",
    }
    for axis, perturbation in zip(np.atleast_1d(axes), perturbations, strict=True):
        strength = robustness.strength.sel(perturbation=perturbation).values
        keep = ~np.isnan(strength)
        for member in members:
            values = robustness.accuracy.sel(perturbation=perturbation, model=member).values[
                keep
            ]  # [strength, seed]
            if np.isnan(values).all():
                continue
            mean = values.mean(axis=1)
            axis.plot(strength[keep], mean, marker="o", markersize=3, label=member)
            n = values.shape[1]
            if n > 1:
                half = t_half_width(values, axis=1)
                axis.fill_between(strength[keep], mean - half, mean + half, alpha=0.2)
        axis.set_xlabel(labels.get(perturbation, "strength"))
        axis.set_ylabel("test accuracy (fraction correct)")
        axis.set_ylim(0, 1)
        axis.set_title(f"{title}: {perturbation}", fontsize=9)
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:  # a panel where no member has a curve stays bare
            axis.legend(fontsize=7)
    return _save(figure, path)


def osi_histograms(orientation: xr.Dataset, members: list[str], title: str, path: Path) -> Path:
    """Distribution of the orientation selectivity index over first-layer units (all seeds pooled),
    one step histogram per member, as the fraction of responsive units per bin."""
    figure, axis = plt.subplots(figsize=(5.2, 3.4))
    bins = np.linspace(0, 1, 21)
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
    return _save(figure, path)


def accuracy_vs_energy(
    panels: dict[str, dict[str, np.ndarray]],
    accuracy: dict[str, np.ndarray],
    title: str,
    path: Path,
    quantity: str = "estimated energy per image (µJ)",
) -> Path:
    """One panel per hardware profile: final test accuracy against an estimated energy
    (``quantity``, log scale where it spans a range), each member's seeds as points and their mean
    as a larger marker."""
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.1 * rows), squeeze=False)
    for axis, (panel, values) in zip(axes.ravel(), panels.items(), strict=False):
        for index, (member, energy) in enumerate(values.items()):
            colour = f"C{index}"
            axis.scatter(energy, accuracy[member], s=12, color=colour, alpha=0.5)
            axis.scatter(np.mean(energy), np.mean(accuracy[member]), s=60, color=colour, label=member)
        energies = np.concatenate([np.ravel(v) for v in values.values()])
        if energies.max() > 5 * energies.min() > 0:  # a log axis only where it spans a range
            axis.set_xscale("log")
        else:
            axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            axis.ticklabel_format(axis="x", useOffset=False, style="plain")
        axis.set_xlabel(quantity)
        axis.set_ylabel("test accuracy")
        axis.set_title(f"estimate: {panel}", fontsize=8)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    for axis in axes.ravel()[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path)


def rsa_heatmap(similarity: xr.DataArray, bio: str, twin: str, path: Path) -> Path:
    """Layer x layer RDM correlation of ``bio`` (rows) and ``twin`` (columns): the mean over seeds
    of the estimate, annotated with the mean of the bootstrap interval's bounds."""
    mean = similarity.mean("seed")
    estimate, low, high = (mean.sel(statistic=s).values for s in ("estimate", "low", "high"))
    rows = [str(n) for n in similarity[f"layer__{bio}"].values]
    columns = [str(n) for n in similarity[f"layer__{twin}"].values]
    figure, axis = plt.subplots(figsize=(max(3.4, 0.9 * len(columns) + 2.2), max(2.6, 0.7 * len(rows) + 1.6)))
    image = axis.imshow(estimate, vmin=-1, vmax=1, cmap="RdBu_r")
    for (i, j), value in np.ndenumerate(estimate):
        colour = "w" if abs(value) > 0.6 else "k"  # legible on the dark ends of the diverging map
        text = f"{value:.2f}\n[{low[i, j]:.2f}, {high[i, j]:.2f}]"
        axis.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
    axis.set_yticks(range(len(rows)), rows, fontsize=7)
    axis.set_xlabel(f"{twin} layer")
    axis.set_ylabel(f"{bio} layer")
    axis.set_title(f"RDM correlation (mean of {similarity.sizes['seed']} seeds; 95 % bootstrap)", fontsize=8)
    figure.colorbar(image, ax=axis, fraction=0.046, label="Pearson r of RDMs")
    return _save(figure, path)


def rdm_matrices(rdms: xr.DataArray, member: str, path: Path) -> Path:
    """Each layer's RDM (first seed), conditions grouped by class; correlation distance 0-2."""
    from scipy.spatial.distance import squareform

    layers = [str(n) for n in rdms[f"layer__{member}"].values]
    figure, axes = plt.subplots(1, len(layers), figsize=(2.6 * len(layers) + 0.8, 2.8), squeeze=False)
    first = rdms.isel(seed=0)
    for axis, layer in zip(axes[0], layers, strict=True):
        image = axis.imshow(
            squareform(first.sel({f"layer__{member}": layer}).values), vmin=0, vmax=2, cmap="viridis"
        )
        axis.set_title(f"{member} {layer}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(image, ax=list(axes[0]), fraction=0.03, label="1 - Pearson r")
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def sta_mosaic(receptive_fields: xr.Dataset, member: str, path: Path, n_units: int = 16) -> Path:
    """Spike-triggered averages of the first ``n_units`` units (first seed), each on its own
    symmetric colour scale (the first channel of a multi-channel input)."""
    shape = json.loads(receptive_fields.attrs["input_shape"])
    sta = receptive_fields.sta.sel(model=member).isel(seed=0).values[:n_units]
    columns = min(8, len(sta))
    rows = math.ceil(len(sta) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.25 * rows + 0.4), squeeze=False)
    for axis, unit in zip(axes.ravel(), sta, strict=False):
        image = unit.reshape(shape)[0] if len(shape) == 3 else unit.reshape(1, -1)
        limit = np.nanmax(np.abs(image)) if np.isfinite(image).any() else 1.0
        axis.imshow(np.nan_to_num(image), cmap="RdBu_r", vmin=-limit, vmax=limit)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(f"{member}: spike-triggered averages (white noise)", fontsize=8)
    return _save(figure, path)
