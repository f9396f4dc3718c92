"""Shared fixtures: the tiny comparison, a stored run, and helpers to run the CLI in a subprocess or
in this process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

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


IN_PROCESS, SUBPROCESS = "in-process", "subprocess"


@pytest.fixture(params=[IN_PROCESS, pytest.param(SUBPROCESS, marks=pytest.mark.slow)])
def neurosim_cli(request: pytest.FixtureRequest):
    """A test that takes this runs twice: with ``cli_in_process`` (the command in this process, in the
    fast suite) and with ``run_cli`` (the real command in a subprocess, which starts Python and
    imports torch each time: in the slow suite)."""
    return run_cli if request.param == SUBPROCESS else request.getfixturevalue("cli_in_process")


#: Warnings a fresh ``python -m neurosim`` does not print (Python's default warning filters).
_SILENT_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


@pytest.fixture
def cli_in_process(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch):
    """``run_cli`` without the subprocess (whose start, importing torch, costs seconds): ``neurosim
    ARGS`` through ``neurosim.cli.main`` in this process, from the repository root. What the
    subprocess would print on stderr is in its ``stderr``: what main printed there, its log records
    (INFO and above, as main's logging.basicConfig prints them; here pytest holds the root logger,
    so basicConfig adds nothing), the warnings Python prints by default, and the traceback of an
    exception main let through (exit status 1)."""
    from neurosim.cli import main

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        monkeypatch.chdir(REPO)
        caplog.set_level(logging.INFO)
        caplog.clear()
        capsys.readouterr()
        problems = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status = main(list(args))
            except SystemExit as exit:  # argparse's usage errors and --help
                status = exit.code if isinstance(exit.code, int) else 1
            except Exception:
                status, problems = 1, [traceback.format_exc()]
        out, err = capsys.readouterr()
        formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s", "%H:%M:%S")
        logged = [formatter.format(record) + "\n" for record in caplog.records]
        shown = [
            warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
            for w in caught
            if not issubclass(w.category, _SILENT_WARNINGS)
        ]
        process = subprocess.CompletedProcess(
            list(args), status, out, err + "".join(logged + shown + problems)
        )
        if check and status != 0:
            raise AssertionError(f"neurosim {' '.join(args)} failed ({status}):\n{process.stderr}")
        return process

    return run


#: The tiny comparison most tests start from: perceptron vs. linear on digits, one seed, 2 epochs.
TINY_COMPARISON: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "description": "perceptron vs. linear, tiny",
    "seeds": [0],
    "device": "cpu",
    "pairs": ["perceptron_linear"],
    "task": {"name": "digits"},
    "training": {"epochs": 2, "batch_size": 16, "lr": 0.01},
}


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _toml_lines(table: dict[str, Any], prefix: str = "") -> list[str]:
    lines = [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, dict)]
    for key, value in table.items():
        if isinstance(value, dict):
            inner = _toml_lines(value, f"{prefix}{key}.")
            header = [f"[{prefix}{key}]"] if not inner or not inner[0].startswith("[") else []
            lines += header + inner
    return lines


def tiny_comparison(**overrides: Any) -> str:
    """The text of :data:`TINY_COMPARISON` with ``overrides``: a table (a dict) is merged into the
    base's table of that name, any other value replaces the key's, and ``None`` removes the key,
    e.g. ``tiny_comparison(seeds=[0, 1], task={"n_per_class": 10}, training={"lr": None})``. One
    ``key = value`` per line, tables as ``[task]`` or ``[models.mlp.training]`` headers, scalars
    before sub-tables, so tests may also edit the text."""
    return "\n".join(["", *_toml_lines(_merged(TINY_COMPARISON, overrides)), ""])


TINY_STORED_RUN = tiny_comparison(
    name="tiny_stored_run",
    description="perceptron vs linear, tiny",
    seeds=[0, 1],
    training={"epochs": 3, "batch_size": 32},
)


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
