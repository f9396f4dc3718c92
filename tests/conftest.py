"""Shared fixtures: tiny tasks and a helper to run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


def run_cli(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m neurosim ARGS`` and return the completed process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.run(
        [sys.executable, "-m", "neurosim", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and process.returncode != 0:
        raise AssertionError(f"neurosim {' '.join(args)} failed ({process.returncode}):\n{process.stderr}")
    return process


@pytest.fixture
def cli():
    return run_cli


TINY_STORED_RUN = """
version = 1
name = "tiny_stored_run"
description = "perceptron vs linear, tiny"
seeds = [0, 1]
device = "cpu"
pairs = ["perceptron_linear"]
[task]
name = "digits"
[training]
epochs = 3
batch_size = 32
lr = 0.01
"""


def clean_accuracy(run_dir: Path, n_stimuli: int) -> np.ndarray:
    """Accuracy ``[model, seed]`` of a stored run's fitted models on its first ``n_stimuli`` test
    images, computed here without any perturbation (what every curve must give at strength 0)."""
    from neurosim.analysis.stored_run import load_run
    from neurosim.evaluation import accuracy
    from neurosim.run_loading import load_fitted_model

    config, task = load_run(run_dir)
    x, y = task.x_test[:n_stimuli], task.y_test[:n_stimuli]
    fitted = [[load_fitted_model(run_dir, m, task, s) for s in config.seeds] for m in config.members]
    return np.array([[accuracy(model, x, y) for model in row] for row in fitted])


@pytest.fixture(scope="session")
def stored_perceptron_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (perceptron vs. linear on digits, 2 seeds, trained models stored) that the
    analysis tests share; each analysis writes its own file into it."""
    from neurosim import config
    from neurosim.runner import run_comparison

    resolved = config.resolve(config.tomllib.loads(TINY_STORED_RUN))
    return run_comparison(resolved, root=tmp_path_factory.mktemp("stored_run"))
