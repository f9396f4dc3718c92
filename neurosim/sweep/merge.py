"""Merge a sweep's cells into one Dataset along the grid dimensions.

Each finished cell's ``results.nc`` (dims ``model``, ``seed``, ``checkpoint``, ...) gets one new
length-1 dimension per grid axis, and the cells are merged with an outer join. The
checkpoint grid depends on the cell (fewer labels per class means fewer samples seen), so
``samples_seen``, ``step`` and ``epoch`` become data variables over the grid. Cells that failed
or have not run are NaN in the results and are described by ``cell_status`` (``done`` /
``failed`` / ``pending``), ``cell_error``, ``cell_id`` and ``cell_config`` over the grid
dimensions, so a failure is recorded rather than hidden. Each variable keeps the units and long
name the cells stored; per-image test predictions stay in the cells (:data:`PER_IMAGE`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.results.storage import open_dataset
from neurosim.sweep.grid import GridAxis

CHECKPOINT_COORDS = ("step", "samples_seen", "epoch")
PER_IMAGE = ("test_prediction", "test_label", "test_image")


def axis_label(axis: GridAxis, value: object, all_label: int = -1) -> object:
    """Coordinate value of a grid value: numbers stay numbers, lists and tables become JSON text.

    ``task.n_per_class = "all"`` becomes ``all_label``, the task's training-set size over its
    number of classes, so a learning-curve axis stays numeric.
    """
    if axis.key == "task.n_per_class" and value in (None, "all"):
        return all_label
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value if isinstance(value, str) else json.dumps(value)
    return value


def _cell_dataset(path: Path, labels: dict[str, object]) -> xr.Dataset:
    dataset = open_dataset(path)
    # Per-image predictions stay in each cell's results.nc (McNemar within a cell): the merged
    # grid would hold one copy per cell, and cells of different tasks have different test splits.
    dataset = dataset.drop_vars([v for v in PER_IMAGE if v in dataset.variables])
    dataset = dataset.reset_coords([c for c in CHECKPOINT_COORDS if c in dataset.coords])
    dataset = dataset.drop_attrs()
    return dataset.expand_dims({dim: [value] for dim, value in labels.items()})


def merge_cells(axes: list[GridAxis], cells: list[dict], attrs: dict, all_label: int = -1) -> xr.Dataset:
    """Merge cells ``[{"overrides", "id", "dir", "status", "error", "config"}]`` into one Dataset.

    ``all_label`` is the coordinate for ``task.n_per_class = "all"`` (see :func:`axis_label`).
    """
    grid_dims = [a.dim for a in axes if a.key != "seeds"]
    seed_axis = next((a for a in axes if a.key == "seeds"), None)
    pieces, status_rows = [], []
    for cell in cells:
        labels = {a.dim: axis_label(a, cell["overrides"][a.key], all_label) for a in axes if a.key != "seeds"}
        if cell["status"] == "done":
            pieces.append(_cell_dataset(Path(cell["dir"]) / "results.nc", labels))
        seed_label = {"seed": cell["overrides"]["seeds"][0]} if seed_axis else {}
        status_rows.append(({**labels, **seed_label}, cell))
    status_dims = grid_dims + (["seed"] if seed_axis else [])
    status = _status_grid(status_rows, status_dims)
    merged = xr.merge([*pieces, status], join="outer", compat="no_conflicts", combine_attrs="drop")
    for name in merged.variables:  # units and long names, as every cell stored them
        if pieces and name in pieces[0].variables and not merged[name].attrs:
            merged[name].attrs = dict(pieces[0][name].attrs)
    for variable in merged.variables.values():
        # Encodings inherited from the cells' files (int64) cannot hold the NaNs of missing cells.
        variable.encoding.clear()
    merged.attrs = dict(attrs)
    return merged


STATUS_VARIABLES = (
    ("cell_status", "status", "cell status: done, failed or pending"),
    ("cell_error", "error", "error message of a failed cell"),
    ("cell_id", "id", "content hash of the cell's resolved config"),
    ("cell_config", "config", "the cell's comparison table, as JSON"),
)


def _status_grid(rows: list[tuple[dict, dict]], dims: list[str]) -> xr.Dataset:
    """Per-cell status strings on the labelled grid ('' where no cell sits)."""
    coords = {d: list(dict.fromkeys(labels[d] for labels, _ in rows)) for d in dims}
    shape = tuple(len(coords[d]) for d in dims)
    arrays = {name: np.full(shape, "", dtype=object) for name, _, _ in STATUS_VARIABLES}
    for labels, cell in rows:
        index = tuple(coords[d].index(labels[d]) for d in dims)
        for name, key, _ in STATUS_VARIABLES:
            arrays[name][index] = str(cell[key])
    return xr.Dataset(
        {
            name: (dims, arrays[name].astype(str), {"long_name": long_name, "units": "1"})
            for name, _, long_name in STATUS_VARIABLES
        },
        coords=coords,
    )
