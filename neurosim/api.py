"""The Python interface of neurosim, for notebooks and scripts: what the command line does, as
functions that return paths and datasets instead of printing them.

    import neurosim
    run_dir = neurosim.run("quickstart", overrides=["training.epochs=3"], seeds=[0])
    sweep_dir = neurosim.run_sweep("sample_efficiency", grid=["task.n_per_class=1,10"])
    results = neurosim.open_results(run_dir)       # xarray Dataset [model, seed, checkpoint]
    results.final_test_accuracy.mean("seed")
    neurosim.build_report(run_dir)                 # the HTML report's path
    task = neurosim.load_task("digits")             # train/test tensors, input_shape, n_classes
    model = neurosim.create_model("snn_mlp", task.input_shape, task.n_classes, n_steps=10)

The names ``run_sweep`` and ``build_report`` (not ``sweep`` and ``report``): ``neurosim.sweep``
and ``neurosim.report`` are subpackages, and importing a subpackage sets the package's attribute of
that name, so a function there would be replaced by the module as soon as anything imports it.

Every function validates its input before it creates anything, as the command line does, and
raises :class:`neurosim.errors.UserError` (one line) on bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from neurosim.models.base import NeurosimModel
from neurosim.tasks import Task


def run_overrides(overrides: Sequence[str], seeds: Sequence[int] | None, device: str | None) -> list[str]:
    """``--set`` assignments with ``--seeds`` and ``--device`` added as assignments of their own."""
    assignments = list(overrides)
    if seeds is not None:
        assignments.append("seeds=[" + ", ".join(str(int(s)) for s in seeds) + "]")
    if device is not None:
        assignments.append(f'device="{device}"')
    return assignments


def run(
    comparison: str | Path,
    overrides: Sequence[str] = (),
    seeds: Sequence[int] | None = None,
    device: str | None = None,
    out: str | Path = "runs",
    workers: int | str = 1,
) -> Path:
    """Fit every member of a comparison (a TOML path or a shipped name) for every seed and return
    its run folder; finished fits are reused and unfinished ones resume (``neurosim run``).

    Args:
        comparison: path of a comparison TOML, or the name of a shipped one (``"quickstart"``).
        overrides: ``"key=value"`` assignments as ``--set`` takes them.
        seeds: model seeds instead of the file's.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` instead of the file's.
        out: folder of run folders.
        workers: processes that train fits at once, or ``"auto"`` (:mod:`neurosim.fit_workers`).
    """
    from neurosim.config import find_comparison, load
    from neurosim.runner import run_comparison

    config = load(find_comparison(str(comparison)), run_overrides(overrides, seeds, device))
    return run_comparison(config, root=out, workers=workers)


def run_sweep(
    comparison: str | Path,
    grid: Sequence[str] = (),
    overrides: Sequence[str] = (),
    out: str | Path = "runs",
    workers: int | None = None,
) -> Path:
    """Run every unfinished cell of a grid of comparisons on a local Dask cluster and merge them
    into ``sweep.nc``; returns the sweep folder (``neurosim sweep``; other schedulers and SLURM:
    :func:`neurosim.sweep.run_sweep`).

    Args:
        grid: swept keys as ``"key=v1,v2"`` (``"task.n_per_class=1,10,all"``); the file's own
            ``[sweep.grid]`` otherwise.
        overrides: ``"key=value"`` assignments for every cell.
        workers: local worker processes (default: the cores, or the GPUs).
    """
    from neurosim.config import find_comparison
    from neurosim.sweep import run_sweep as sweep_grid

    return sweep_grid(find_comparison(str(comparison)), list(grid), list(overrides), out, workers=workers)


def open_results(run_dir: str | Path) -> xr.Dataset:
    """The combined results of a run folder (``results.nc``; a sweep folder's ``sweep.nc``)."""
    from neurosim.results.storage import open_dataset

    folder = Path(run_dir)
    path = folder / "sweep.nc" if (folder / "sweep.nc").is_file() else folder / "results.nc"
    return open_dataset(path)


def build_report(run_dir: str | Path) -> Path:
    """Rebuild the HTML and Markdown report of a run or sweep folder from its stored results;
    returns the HTML file's path."""
    from neurosim.report import build_report as build

    return build(Path(run_dir))


def load_task(name: str, **options: object) -> Task:
    """A registered task (``neurosim list tasks``) built with its own options (a comparison's
    ``[task.options]``; subsets and validation splits are the comparison's, see
    :func:`neurosim.run_loading.load_task`)."""
    from neurosim.run_loading import create_task

    return create_task(name, options)


def create_model(name: str, input_shape: tuple[int, ...], n_classes: int, **options: object) -> NeurosimModel:
    """A registered model (``neurosim list models``) for inputs of ``input_shape`` and
    ``n_classes`` classes, untrained, on the CPU; unknown options name the valid ones."""
    from neurosim.run_loading import create_model as create

    return create(name, input_shape, n_classes, options, f"models.{name}")
