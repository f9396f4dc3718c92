"""One function per figure of the run report's own sections (learning curves, a pair's confusion
matrices, first-layer weights), and :func:`save_figure`, which writes every figure of a report, the studies'
too (their figures live in their modules, :mod:`neurosim.analysis.study`). Each reads results
only and writes one PNG.

All figures: labelled axes with units; curves: mean over seeds with a 95 % t-interval band.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis.statistics import t_half_width

DPI = 110


def save_figure(figure: Figure, path: Path, tight: bool = True) -> Path:
    """Write ``figure`` as a PNG at the report's resolution (after a tight layout with ``tight``)
    and release it; returns ``path``."""
    if tight:
        figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def learning_curves(results: xr.Dataset, members: list[str], title: str, path: Path) -> Path:
    """Test accuracy vs. training samples seen for ``members``: mean over seeds and the 95 %
    t-interval band over seeds, clipped to [0, 1]."""
    figure, axis = plt.subplots(figsize=(4.6, 3.2))  # beside a pair's confusion matrices
    samples = results.samples_seen.values
    for member in members:
        accuracy = results.test_accuracy.sel(model=member).values  # [seed, checkpoint]
        mean = accuracy.mean(axis=0)
        axis.plot(samples, mean, marker="o", markersize=3, label=member)
        n = accuracy.shape[0]
        if n > 1:
            half = t_half_width(accuracy, axis=0)
            # an accuracy lies in [0, 1]; a t-band over 3-5 seeds can reach past it (the tables use
            # a bounded bootstrap, too costly for every checkpoint of every curve)
            axis.fill_between(samples, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1), alpha=0.2)
    axis.set_xscale("log")
    axis.set_xlabel("training samples seen (count, log scale)")
    axis.set_ylabel("test accuracy (fraction correct)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path)


#: Size of one confusion panel (inches): small multiples, read for their pattern, not their digits.
CONFUSION_PANEL = 1.6


def pair_confusions(results: xr.Dataset, members: list[str], class_names: list[str], path: Path) -> Path:
    """One pair's test confusion matrices side by side, one small panel per member (bio first),
    summed over seeds and normalised per true class (row ``i``: the fraction of class ``i``'s
    test images predicted as each class), on one colour scale [0, 1] with one colour bar.

    Laid out by hand (fixed margins, no tight layout): a figure per pair, so its layout cost
    counts once per pair of every report. Past 20 classes only every ``k``-th class is named.
    """
    n = len(members)
    label_room = 0.25 + 0.05 * max(len(name) for name in class_names)  # inches for tick labels
    width = n * (CONFUSION_PANEL + label_room) + 0.9
    height = CONFUSION_PANEL + label_room + 0.45
    figure, axes = plt.subplots(1, n, figsize=(width, height), squeeze=False)
    figure.subplots_adjust(
        left=label_room / width,
        right=1 - 0.8 / width,
        bottom=label_room / height,
        top=1 - 0.3 / height,
        wspace=label_room / CONFUSION_PANEL,
    )
    step = max(1, math.ceil(len(class_names) / 20))
    ticks = np.arange(0, len(class_names), step)
    names = [class_names[i] for i in ticks]
    for axis, member in zip(axes[0], members, strict=True):
        counts = results.confusion.sel(model=member).sum("seed").values.astype(float)
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = axis.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        axis.set_xticks(ticks, names, rotation=90, fontsize=6)
        axis.set_yticks(ticks, names, fontsize=6)
        axis.tick_params(length=2, pad=1)
        axis.set_title(member, fontsize=7, pad=3)
        axis.set_xlabel("predicted class", fontsize=6, labelpad=1)
    axes[0, 0].set_ylabel("true class", fontsize=6, labelpad=1)
    colorbar_axis = figure.add_axes(
        (1 - 0.65 / width, label_room / height, 0.1 / width, CONFUSION_PANEL / height)
    )
    colorbar = figure.colorbar(image, cax=colorbar_axis)
    colorbar.ax.tick_params(labelsize=6)
    colorbar.set_label("fraction of true class", fontsize=6)
    return save_figure(figure, path, tight=False)  # laid out above


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
        return save_figure(figure, path, tight=False)  # the margins are set: nothing to lay out
    else:
        figure, axis = plt.subplots(figsize=(4.5, 3.2))
        limit = np.abs(weights).max() or 1.0
        image = axis.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        axis.set_xlabel("input index")
        axis.set_ylabel("first-layer unit")
        axis.set_title(f"{member}: input weights", fontsize=9)
        figure.colorbar(image, ax=axis, label="weight (dimensionless)")
    return save_figure(figure, path)


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
