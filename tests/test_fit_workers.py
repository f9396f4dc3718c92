"""Fits trained by several processes at once: every fit once, the same results, no orphans."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neurosim import runner
from neurosim.config import resolve
from neurosim.fit_workers import MAX_AUTO_WORKERS, Standby, choose_workers
from neurosim.results.storage import open_dataset

from .conftest import REPO

RAW = {
    "name": "workers",
    "seeds": [0, 1],
    "device": "cpu",
    "pairs": ["perceptron_linear"],
    "task": {"name": "digits"},
    "training": {"epochs": 2, "batch_size": 32, "lr": 0.01, "n_checkpoints": 2},
}


def test_auto_takes_one_process_per_thread_on_a_cpu_and_one_on_a_gpu():
    assert choose_workers("auto", cores=2, n_fits=57, device="cpu") == 2
    assert choose_workers("auto", cores=64, n_fits=57, device="cpu") == MAX_AUTO_WORKERS
    assert choose_workers("auto", cores=8, n_fits=57, device="cuda") == 1
    assert choose_workers("auto", cores=1, n_fits=57, device="cpu") == 1
    assert choose_workers(3, cores=2, n_fits=57, device="cpu") == 3, "an explicit count is kept"
    assert choose_workers(8, cores=2, n_fits=2, device="cpu") == 2, "never more than the fits"


def _accuracy(directory: Path):
    return open_dataset(directory / "results.nc").final_test_accuracy


def _run_with_one_thread(raw: dict, root: Path, workers: int) -> Path:
    before = torch.get_num_threads()
    torch.set_num_threads(2 if workers == 2 else 1)  # two processes of one thread each, or one
    try:
        return runner.run_comparison(resolve(raw), root=root, workers=workers)
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_two_processes_share_the_fits_and_give_the_results_of_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    alone = _run_with_one_thread(RAW | {"seeds": [0, 1, 2]}, tmp_path / "one", workers=1)
    fit = runner.run_fit

    def slow_fit(*args, **kwargs):  # this process only: the worker (importing for a few s) catches up
        time.sleep(2.0)
        return fit(*args, **kwargs)

    monkeypatch.setattr(runner, "run_fit", slow_fit)
    shared = _run_with_one_thread(RAW | {"seeds": [0, 1, 2]}, tmp_path / "two", workers=2)
    assert (_accuracy(shared) == _accuracy(alone)).all(), "each fit is seeded by its own seed"
    sources = [open_dataset(path).attrs["threads_source"] for path in sorted(shared.glob("fits/*/seed*.nc"))]
    assert len(sources) == 6
    by_worker = [s for s in sources if "a worker of pid" in s]
    assert 0 < len(by_worker) < 6, f"both processes trained fits: {sources}"
    assert all("1 per fit process" in s for s in sources)
    assert not list(shared.glob("fits/*/*.lock")) and not list(shared.glob("fits/*/*.ckpt.pt"))


def test_a_failing_worker_leaves_its_fits_to_the_main_process(tmp_path, caplog):
    class Failing(Standby):
        def assign(self, count, directory, seeds, threads):
            return [subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])]

    with caplog.at_level(logging.WARNING):
        directory = runner.run_comparison(resolve(RAW), root=tmp_path, workers=2, standby=Failing(0))
    assert _accuracy(directory).shape == (2, 2) and not _accuracy(directory).isnull().any()
    assert not any(p.stat().st_size == 0 for p in directory.glob("fits/*/seed*.nc"))
    assert "exited with status 5; its fits were trained here" in caplog.text


def test_a_worker_exits_when_its_main_process_dies():
    child = (
        "import os, time; from neurosim.fit_workers import exit_with_parent; "
        "exit_with_parent(os.getppid()); print(os.getpid(), flush=True); time.sleep(60)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {child!r}], stdout=sys.stdout); time.sleep(60)"
    )
    environment = os.environ | {"PYTHONPATH": str(REPO)}
    main = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, env=environment
    )
    worker = int(main.stdout.readline())
    main.kill()
    main.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.1)
    assert not _alive(worker), "the worker outlived its main process"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
    except FileNotFoundError:
        return False
    return state != "Z"
