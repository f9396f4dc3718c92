"""One function per figure of the run report's own sections (learning curves, confusion matrices,
first-layer weights), and :func:`save_figure`, which writes every figure of a report, the studies'
too (their figures live in their modules, :mod:`neurosim.analysis.study`). Each reads results
only and writes one PNG.

All figures: labelled axes with units, mean over seeds with a 95 % t-interval band.
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
    return save_figure(figure, path)


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
    return save_figure(figure, path, tight=False)  # laid out above, around the colour bar


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
