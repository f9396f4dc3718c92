"""What every analysis of a stored run shares: reading the run, and writing and reading its result.

A run directory (``neurosim run``) holds ``config.json`` (the resolved comparison) and the trained
models of its fits. An analysis named ``NAME`` stores one Dataset as ``analyses/NAME.nc``
(atomically), with the attributes of :func:`analysis_attrs`. Reading a stored result loads no
model code (the report reads them); only :func:`load_run` builds the run's task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

from neurosim.config import ComparisonConfig
from neurosim.errors import UserError
from neurosim.results.provenance import provenance
from neurosim.results.storage import open_dataset, save_dataset

if TYPE_CHECKING:
    from neurosim.tasks import Task


def load_run(run_dir: str | Path) -> tuple[ComparisonConfig, Task]:
    """The resolved comparison of a run directory and its task."""
    from neurosim.run_loading import load_task  # here: reading stored results needs no model code

    config_path = Path(run_dir) / "config.json"
    if not config_path.is_file():
        raise UserError(f"{run_dir} holds no config.json; is it a run directory of `neurosim run`?")
    config = ComparisonConfig.from_dict(json.loads(config_path.read_text()))
    return config, load_task(config)


def analysis_attrs(name: str, n_stimuli: int, task: Task, config: ComparisonConfig) -> dict:
    """Attributes of a stored analysis: what it is, on which stimuli, for which run, and provenance."""
    return {
        "analysis": name,
        "n_stimuli": n_stimuli,
        "stimuli": f"the first {n_stimuli} test images of {task.name}",
        "pairs": ",".join(config.pairs),
        "pair_members": json.dumps(config.pair_members()),
        "config": config.to_json(),
        **provenance("cpu"),
    }


def analysis_path(run_dir: str | Path, name: str) -> Path:
    return Path(run_dir) / "analyses" / f"{name}.nc"


def save_analysis(run_dir: str | Path, name: str, dataset: xr.Dataset) -> xr.Dataset:
    save_dataset(analysis_path(run_dir, name), dataset)
    return dataset


def stored_analysis(run_dir: str | Path, name: str) -> xr.Dataset | None:
    """The stored analysis ``name`` of a run, or ``None`` if it was never run."""
    path = analysis_path(run_dir, name)
    return open_dataset(path) if path.is_file() else None
