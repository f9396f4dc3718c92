"""Sweeps on a local Dask cluster: merged results equal one-by-one runs, failures, kill and resume."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosim import config
from neurosim.results import open_dataset
from neurosim.runner import run_comparison
from neurosim.sweep import run_sweep
from neurosim.sweep.cell import cell_raw_config
from neurosim.sweep.executor import slurm_cluster

from .conftest import REPO, run_cli, tiny_comparison

BASE = tiny_comparison(name="grid", description=None, seeds=[0, 1])
GRID = ["task.n_per_class=5,20", "training.lr=0.01,0.1"]


@pytest.fixture
def comparison(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(BASE)
    return path


@pytest.mark.slow
def test_two_by_two_sweep_on_two_dask_workers_equals_runs_one_by_one(tmp_path, comparison):
    sweep_dir = run_sweep(comparison, grid=GRID, root=tmp_path / "sweeps", workers=2)
    merged = open_dataset(sweep_dir / "sweep.nc")
    assert merged.final_test_accuracy.dims == ("n_per_class", "lr", "model", "seed")
    assert merged.n_per_class.values.tolist() == [5, 20] and merged.lr.values.tolist() == [0.01, 0.1]
    assert (merged.cell_status == "done").all()
    base = config.load_raw(comparison)
    for n_per_class in (5, 20):
        for lr in (0.01, 0.1):
            raw = cell_raw_config(base, {"task.n_per_class": n_per_class, "training.lr": lr})
            alone = open_dataset(run_comparison(config.resolve(raw), root=tmp_path / "alone") / "results.nc")
            cell = merged.sel(n_per_class=n_per_class, lr=lr)
            np.testing.assert_array_equal(cell.final_test_accuracy.values, alone.final_test_accuracy.values)
            n = alone.sizes["checkpoint"]
            np.testing.assert_array_equal(cell.test_accuracy.values[..., :n], alone.test_accuracy.values)
            np.testing.assert_array_equal(cell.samples_seen.values[:n], alone.samples_seen.values)
    report = run_cli("report", str(sweep_dir)).stdout.strip()
    text = Path(report).read_text()
    assert "accuracy vs. n_per_class" in text
    assert "Sample efficiency" in text and "normalised AUC" in text
    # One curve figure per pair, and the bio model's AUC tested against its twin's, per lr.
    assert merged.attrs["pairs"] == "perceptron_linear"
    assert "perceptron, linear: final test accuracy vs. n_per_class" in text
    assert text.count("perceptron - linear") == 2 and "AUC difference" in text


@pytest.mark.slow
def test_a_failing_cell_is_recorded_and_the_others_complete(tmp_path, comparison):
    # Valid as a comparison (so the sweep starts), but digits has fewer than 1000 images per class:
    # the cell fails when it loads its task, on its worker.
    sweep_dir = run_sweep(comparison, grid=["task.n_per_class=5,1000"], root=tmp_path, workers=2)
    merged = open_dataset(sweep_dir / "sweep.nc")
    assert merged.cell_status.sel(n_per_class=5) == "done"
    assert merged.cell_status.sel(n_per_class=1000) == "failed"
    assert "n_per_class=1000 is too large" in str(merged.cell_error.sel(n_per_class=1000).values)
    assert np.isnan(merged.final_test_accuracy.sel(n_per_class=1000)).all()
    assert not np.isnan(merged.final_test_accuracy.sel(n_per_class=5)).any()
    failure = next((sweep_dir / "cells").glob("*/failure.json")).read_text()
    assert "Traceback" in failure


def test_a_grid_key_typo_is_refused_before_any_worker_starts(neurosim_cli, tmp_path, comparison):
    process = neurosim_cli(
        "sweep", str(comparison), "--grid", "training.epochz=1,2", "--out", str(tmp_path / "s"), check=False
    )
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines()[-1].startswith("neurosim: error: grid cell training.epochz=1:")
    assert "unknown key 'epochz' in [training]" in process.stderr
    assert "dask" not in process.stderr.lower() and not (tmp_path / "s").exists()


def _timing_free(path: Path) -> xr.Dataset:
    dataset = open_dataset(path).drop_vars(["wall_time"]).drop_attrs()
    return dataset


@pytest.mark.slow
def test_killed_sweep_resumes_without_recomputing_finished_cells(tmp_path, comparison):
    grid = ["task.n_per_class=5,10,20,40"]
    args = ["sweep", str(comparison), "--grid", grid[0], "--workers", "1", "--no-report"]
    command = [sys.executable, "-m", "neurosim", *args, "--out", str(tmp_path / "killed")]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    finished: list[Path] = []
    deadline = time.time() + 180
    while time.time() < deadline and process.poll() is None and not finished:
        finished = list((tmp_path / "killed").glob("*/cells/*/results.nc"))
        time.sleep(0.05)
    import os

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert finished, "a cell should have finished before the kill"
    sweep_dir = finished[0].parents[2]
    assert not (sweep_dir / "sweep.nc").exists()
    stamps = {p: p.stat().st_mtime_ns for p in sweep_dir.glob("cells/*/results.nc")}
    assert 1 <= len(stamps) < 4

    resumed = run_cli(*args, "--out", str(tmp_path / "killed"))
    assert f"{len(stamps)} already finished" in resumed.stderr
    for path, stamp in stamps.items():
        assert path.stat().st_mtime_ns == stamp, "a finished cell was recomputed"
    run_cli(*args, "--out", str(tmp_path / "clean"))
    xr.testing.assert_identical(
        _timing_free(sweep_dir / "sweep.nc"), _timing_free(tmp_path / "clean" / "grid-sweep" / "sweep.nc")
    )


def test_slurm_cluster_code_path_builds_the_job_script():
    cluster = slurm_cluster({"cores": 2, "memory": "8GB", "queue": "gpu", "walltime": "01:00:00"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p gpu" in script and "--cpus-per-task=2" in script and "#SBATCH -t 01:00:00" in script
    assert "distributed.cli.dask_worker" in script
