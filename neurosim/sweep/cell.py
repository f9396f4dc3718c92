"""One sweep cell: the comparison with the cell's overrides, run to completion on a worker.

The function here is what Dask ships to workers. It never raises: any exception (an invalid
value in this grid point, a crash in training) is caught and returned, with its traceback, as a
failed :class:`CellOutcome`, so one bad cell never stops the others.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from neurosim.config import apply_override, resolve
from neurosim.results.storage import write_text
from neurosim.sweep.grid import override_text

FAILURE_FILE = "failure.json"


@dataclass(frozen=True)
class CellOutcome:
    """What a worker reports for one cell."""

    cell_id: str
    status: str  # "done" or "failed"
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0


def cell_raw_config(base: dict, overrides: dict[str, object]) -> dict:
    """The comparison table with the cell's overrides applied (the ``sweep`` table removed)."""
    raw = copy.deepcopy(base)
    raw.pop("sweep", None)
    for key, value in overrides.items():
        apply_override(raw, f"{key}={override_text(value)}")
    return raw


def cell_id(raw: dict) -> str:
    """Content hash of a cell: of its resolved config, or of its raw table if it does not resolve."""
    try:
        payload = resolve(raw).to_json()
    except ValueError:
        payload = json.dumps(raw, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def pin_gpu() -> int | None:
    """On a machine with several GPUs, make this Dask worker's cells use GPU ``worker name % count``.

    The local cluster starts one worker per GPU, named 0, 1, ...; without this every worker
    would train on ``cuda:0``. Returns the chosen GPU index, or ``None`` when there is nothing
    to choose (CPU, one GPU, or not running on a Dask worker).
    """
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return None
    try:
        from distributed import get_worker

        name = get_worker().name
    except (ImportError, ValueError):
        return None
    if not isinstance(name, int):
        return None
    index = name % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return index


def run_cell(raw: dict, directory: str, torch_threads: int | None = None) -> CellOutcome:
    """Resolve and run one cell into ``directory``; failures are recorded, never raised."""
    from neurosim.runner import run_comparison
    from neurosim.threads import configure_threads

    identity = Path(directory).name
    started = time.perf_counter()
    configure_threads(torch_threads)
    pin_gpu()
    try:
        run_comparison(resolve(raw), directory=Path(directory))
    except Exception as error:  # a cell's failure must be recorded, whatever it is
        outcome = CellOutcome(
            identity,
            "failed",
            f"{type(error).__name__}: {error}",
            traceback.format_exc(),
            time.perf_counter() - started,
        )
        write_text(Path(directory) / FAILURE_FILE, json.dumps(outcome.__dict__, indent=2))
        return outcome
    (Path(directory) / FAILURE_FILE).unlink(missing_ok=True)
    return CellOutcome(identity, "done", seconds=time.perf_counter() - started)
