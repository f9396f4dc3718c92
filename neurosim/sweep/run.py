"""``neurosim sweep``: a grid of runs on Dask, resumable, merged into one dataset.

Layout of a sweep directory (``runs/<name>-sweep/``)::

    cells/<cell id>/            one run directory per grid cell (as ``neurosim run`` writes)
    cells/<cell id>/failure.json   error and traceback of a cell that failed
    sweep.nc                    every cell merged along the grid dimensions
    sweep.json                  the grid and each cell's status

A cell is identified by a hash of its resolved config, so a rerun (or a sweep that adds values)
skips every cell whose ``results.nc`` exists, and an interrupted cell resumes from its fits'
checkpoints. Writes are atomic, so a killed sweep never leaves a result that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

from neurosim.config import apply_override, load_raw, resolve
from neurosim.errors import UserError
from neurosim.options import NAME_PATTERN
from neurosim.results.provenance import provenance
from neurosim.results.storage import save_dataset, write_text
from neurosim.run_folder import check_out_folder
from neurosim.sweep.cell import FAILURE_FILE, CellOutcome, cell_id, cell_raw_config, run_cell
from neurosim.sweep.executor import make_client
from neurosim.sweep.grid import GridAxis, cells, grid_from_table, merge_axes, parse_grid_option
from neurosim.sweep.merge import merge_cells

log = logging.getLogger(__name__)

SWEEP_KEYS = ("grid",)


def plan(path: str | Path, grid: list[str] = (), overrides: list[str] = ()) -> tuple[dict, list[GridAxis]]:
    """The base comparison table (with ``--set`` overrides) and the sweep's grid axes."""
    base = load_raw(path)
    for assignment in overrides:
        apply_override(base, assignment)
    sweep_table = base.get("sweep", {})
    if not isinstance(sweep_table, dict):
        raise UserError("[sweep] must be a table")
    for key in sweep_table:
        if key not in SWEEP_KEYS:
            raise UserError(f"unknown key {key!r} in [sweep]; valid keys: {', '.join(SWEEP_KEYS)}")
    axes = merge_axes(grid_from_table(sweep_table.get("grid", {})), [parse_grid_option(g) for g in grid])
    if not axes:
        raise UserError("the sweep has no grid: add --grid key=v1,v2 or a [sweep.grid] table")
    for combination in cells(axes):  # every cell validated before any worker starts
        try:
            resolve(cell_raw_config(base, combination))
        except UserError as error:
            shown = ", ".join(f"{k}={v}" for k, v in combination.items())
            raise UserError(f"grid cell {shown}: {error}") from None
    return base, axes


def _labels_per_class_of_all(base: dict) -> int:
    """Training examples per class of the base task when all are used (-1 if it cannot load)."""
    from neurosim.tasks import TASKS

    task_table = base.get("task", {})
    try:
        task = TASKS.get(task_table.get("name", "digits"))(**task_table.get("options", {}))
    except (ValueError, TypeError):
        return -1
    return len(task.y_train) // task.n_classes


def _progress_line(
    done: int, failed: int, skipped: int, total: int, running: int, durations: list[float], workers: int
) -> str:
    remaining = total - done - failed - skipped
    eta = ""
    if durations and remaining:
        seconds = sum(durations) / len(durations) * remaining / max(workers, 1)
        eta = f", about {seconds:.0f} s left"
    return (
        f"cells: {done + skipped}/{total} done ({skipped} skipped), {running} running, {failed} failed{eta}"
    )


def run_sweep(
    path: str | Path,
    grid: list[str] = (),
    overrides: list[str] = (),
    root: str | Path = "runs",
    scheduler: str | None = None,
    workers: int | None = None,
    cluster: str = "local",
    cluster_options: dict | None = None,
) -> Path:
    """Run every cell of the grid that has not finished, then merge all cells into ``sweep.nc``.

    Returns:
        The sweep directory.
    """
    base, axes = plan(path, grid, overrides)
    name = str(base.get("name", Path(path).stem))
    if not re.match(NAME_PATTERN, name):
        raise UserError(f"sweep name {name!r} (the file's name): set name = ... in the comparison")
    check_out_folder(root)
    sweep_dir = Path(root) / f"{name}-sweep"
    planned = _plan_cells(base, axes, sweep_dir)
    todo = [c for c in planned.values() if not (Path(c["dir"]) / "results.nc").is_file()]
    skipped = len(planned) - len(todo)
    for cell in planned.values():
        if cell not in todo:
            cell["status"] = "done"
    log.info("sweep %s: %d cells, %d already finished", sweep_dir, len(planned), skipped)
    if todo:
        _run_cells(todo, len(planned), skipped, scheduler, workers, cluster, cluster_options)
    for cell in planned.values():
        failure = Path(cell["dir"]) / FAILURE_FILE
        if cell["status"] == "pending" and failure.is_file():
            cell["status"], cell["error"] = "failed", json.loads(failure.read_text())["error"]
    _write_sweep(sweep_dir, name, path, base, axes, planned)
    return sweep_dir


def _plan_cells(base: dict, axes: list[GridAxis], sweep_dir: Path) -> dict[str, dict]:
    """Every distinct cell of the grid by its id (combinations that resolve alike are one cell)."""
    planned: dict[str, dict] = {}
    for combination in cells(axes):
        raw = cell_raw_config(base, combination)
        identity = cell_id(raw)
        planned.setdefault(
            identity,
            {
                "overrides": combination,
                "id": identity,
                "dir": str(sweep_dir / "cells" / identity),
                "raw": raw,
                "status": "pending",
                "error": "",
                "config": json.dumps(raw, sort_keys=True),
            },
        )
    return planned


def _run_cells(
    todo: list[dict],
    total: int,
    skipped: int,
    scheduler: str | None,
    workers: int | None,
    cluster: str,
    cluster_options: dict | None,
) -> None:
    """Run the unfinished cells on Dask, recording each one's status and error as it ends."""
    client = make_client(scheduler, workers, cluster, cluster_options)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        threads = max(1, (os.cpu_count() or 1) // n_workers) if not scheduler and cluster == "local" else None
        futures = {
            client.submit(run_cell, c["raw"], c["dir"], threads, key=f"cell-{c['id']}", pure=False): c
            for c in todo
        }
        from distributed import as_completed

        done = failed = 0
        durations: list[float] = []
        for future in as_completed(futures):
            cell = futures[future]
            try:
                outcome: CellOutcome = future.result()
            except Exception as error:  # a worker died: record it like any failure
                outcome = CellOutcome(cell["id"], "failed", f"{type(error).__name__}: {error}")
            cell["status"], cell["error"] = outcome.status, outcome.error
            if outcome.status == "done":
                done += 1
                durations.append(outcome.seconds)
            else:
                failed += 1
                log.warning("cell %s %s failed: %s", cell["id"], cell["overrides"], outcome.error)
            running = min(n_workers, len(todo) - done - failed)
            log.info(_progress_line(done, failed, skipped, total, running, durations, n_workers))
    finally:
        client.close()
        if client.cluster is not None:
            client.cluster.close()


def _write_sweep(
    sweep_dir: Path, name: str, path: str | Path, base: dict, axes: list[GridAxis], planned: dict[str, dict]
) -> None:
    """Merge every cell into ``sweep.nc`` and write the grid and each cell's status to ``sweep.json``."""
    attrs = {
        "sweep": name,
        "comparison_file": str(path),
        "grid": json.dumps({a.key: list(a.values) for a in axes}),
        "grid_dims": json.dumps({a.key: a.dim for a in axes}),
        "pairs": ",".join(base.get("pairs", [])),
        "pair_members": json.dumps(resolve(base).pair_members()),
        **provenance("per cell (see cell_config)"),
    }
    merged = merge_cells(axes, list(planned.values()), attrs, all_label=_labels_per_class_of_all(base))
    save_dataset(sweep_dir / "sweep.nc", merged)
    summary = {
        "grid": {a.key: list(a.values) for a in axes},
        "cells": [{k: c[k] for k in ("id", "overrides", "status", "error")} for c in planned.values()],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_text(sweep_dir / "sweep.json", json.dumps(summary, indent=2, default=str))
