"""A run folder shared, damaged or tampered with: one consistent view, self-repair, safe loading."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neurosim.results import open_dataset
from neurosim.run_folder import fit_path

from .conftest import REPO, run_cli, tiny_comparison

#: tiny_comparison's keyword arguments of this file's comparison.
SHARED = {"name": "shared", "task": {"n_per_class": 10}}
TINY = tiny_comparison(**SHARED)

#: Slow enough (several seconds per fit) that two processes started together overlap.
SLOW = """
version = 1
name = "contended"
seeds = [0, 1]
device = "cpu"
extra_models = ["mlp"]
[task]
name = "digits"
[training]
epochs = 25
batch_size = 8
n_checkpoints = 4
[models.mlp]
hidden_sizes = [64]
"""


def write(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_folder_of(run: subprocess.CompletedProcess | str) -> Path:
    """The run folder a ``neurosim run`` printed (from its process or its stdout)."""
    stdout = run if isinstance(run, str) else run.stdout
    line = next(line for line in stdout.splitlines() if line.startswith("results: "))
    return Path(line.removeprefix("results: ")).parent


def start(comparison: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "neurosim", "run", str(comparison), "--out", str(out), "--quiet", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_a_crafted_checkpoint_cannot_run_code(tmp_path):
    """A checkpoint is read with weights_only=True: a pickle that would run a command is refused,
    moved aside as *.corrupt, and the fit trains from the start."""
    comparison = write(tmp_path)
    first = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet"))
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    fit_path(first, "linear", 0).unlink()  # make the fit unfinished, with a crafted checkpoint
    checkpoint = fit_path(first, "linear", 0, ".ckpt.pt")
    torch.save({"step": 1, "model": Payload()}, checkpoint)
    process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    assert not marker.exists(), "the crafted pickle ran"
    assert "training starts afresh" in process.stderr
    assert checkpoint.with_name(checkpoint.name + ".corrupt").is_file() and not checkpoint.exists()
    assert np.isfinite(open_dataset(first / "results.nc").final_test_accuracy.values).all()


@pytest.mark.slow
def test_a_corrupt_fit_is_kept_aside_and_retrained(tmp_path):
    comparison = write(tmp_path)
    first = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet", "--no-report")
    folder = run_folder_of(first)
    stored = fit_path(folder, "linear", 0)
    original = open_dataset(stored).final_test_accuracy.values
    truncated = stored.read_bytes()[:1000]
    stored.write_bytes(truncated)
    second = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    assert f"cannot read {stored}" in second.stderr and "will be retrained" in second.stderr
    assert stored.with_name("seed0.nc.corrupt").read_bytes() == truncated, "kept, never deleted"
    np.testing.assert_array_equal(open_dataset(stored).final_test_accuracy.values, original)
    assert (
        "linear seed 0: training" in second.stderr and "perceptron seed 0 already finished" in second.stderr
    )


@pytest.mark.slow
def test_an_unreadable_results_file_is_rebuilt_by_report(tmp_path):
    comparison = write(tmp_path)
    folder = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet"))
    before = open_dataset(folder / "results.nc")
    (folder / "results.nc").write_bytes(os.urandom(2048))
    process = run_cli("report", str(folder))
    assert "rebuilding it from the stored fits" in process.stderr
    after = open_dataset(folder / "results.nc")
    np.testing.assert_array_equal(after.final_test_accuracy.values, before.final_test_accuracy.values)
    assert (folder / "results.nc.corrupt").stat().st_size == 2048


@pytest.mark.slow
def test_an_orphan_checkpoint_beside_a_finished_fit_is_removed(tmp_path):
    comparison = write(tmp_path)
    folder = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet"))
    orphan = fit_path(folder, "perceptron", 0, ".ckpt.pt")
    torch.save({"step": 1}, orphan)  # as a kill between saving the fit and removing it leaves
    run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet", "--no-report")
    assert not orphan.exists()


@pytest.mark.slow
def test_files_are_written_with_the_process_umask(tmp_path):
    comparison = write(tmp_path)
    previous = os.umask(0o022)
    try:
        process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    finally:
        os.umask(previous)
    folder = run_folder_of(process)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 10
    modes = {str(p.relative_to(folder)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
    assert not list(folder.rglob("*.lock")), "locks are removed when released"


@pytest.mark.slow
def test_runs_with_other_seeds_share_one_consistent_view(tmp_path):
    """Two processes at once, other seeds, one --out: results.nc, config.json and the report
    hold every seed, and every fit was trained once."""
    comparison = write(tmp_path, SLOW)
    out = tmp_path / "runs"
    processes = [start(comparison, out, "--seeds", "0", "1"), start(comparison, out, "--seeds", "2")]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    folder = next(out.iterdir())
    results = open_dataset(folder / "results.nc")
    assert results.seed.values.tolist() == [0, 1, 2]
    assert json.loads((folder / "config.json").read_text())["seeds"] == [0, 1, 2]
    assert json.loads(results.attrs["config"])["seeds"] == [0, 1, 2]
    trained = sorted(
        line.split(": ")[-2] for _, e in outputs for line in e.splitlines() if line.endswith(": training")
    )
    assert trained == ["mlp seed 0", "mlp seed 1", "mlp seed 2"]
    report = run_cli("report", str(folder)).stdout.strip()
    assert "Seeds: 0, 1, 2." in Path(report).read_text()


@pytest.mark.slow
def test_two_identical_runs_at_once_train_each_fit_once(tmp_path):
    comparison = write(tmp_path, SLOW)
    out = tmp_path / "runs"
    processes = [start(comparison, out, "--no-report"), start(comparison, out, "--no-report")]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    stderr = "".join(e for _, e in outputs)
    trained = sorted(line.split(": ")[-2] for line in stderr.splitlines() if line.endswith(": training"))
    assert trained == ["mlp seed 0", "mlp seed 1"], stderr
    assert "is being trained by pid" in stderr or "already finished" in stderr
    results = [open_dataset(run_folder_of(stdout) / "results.nc") for stdout, _ in outputs]
    np.testing.assert_array_equal(
        results[0].final_test_accuracy.values, results[1].final_test_accuracy.values
    )


@pytest.mark.parametrize("what", ["name", "member"])
def test_names_with_markup_never_reach_a_file_or_the_report(neurosim_cli, tmp_path, what):
    """Names become folders and report text: unsafe ones are refused before anything exists."""
    name, member = 'x" onerror="alert(4)', 'lin" onerror="alert(4)'
    text = (
        tiny_comparison(**{**SHARED, "name": name})
        if what == "name"
        else tiny_comparison(**SHARED, pair_members={"perceptron_linear": {"linear": member}})
    )
    process = neurosim_cli("run", str(write(tmp_path, text)), "--out", str(tmp_path / "runs"), check=False)
    assert process.returncode == 2 and "must be a name of 1-64 letters" in process.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes read-only folders")
def test_report_of_a_read_only_run_folder_goes_to_out(tmp_path):
    comparison = write(tmp_path)
    folder = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--no-report"))
    folder.chmod(0o555)
    try:
        refused = run_cli("report", str(folder), check=False)
        assert refused.returncode == 2 and "no permission to write" in refused.stderr
        assert "Traceback" not in refused.stderr and "--out" in refused.stderr
        written = run_cli("report", str(folder), "--out", str(tmp_path / "elsewhere")).stdout.strip()
        assert Path(written) == tmp_path / "elsewhere" / "report.html"
    finally:
        folder.chmod(0o755)


def test_quarantine_never_overwrites_an_earlier_copy(tmp_path):
    from neurosim.results.storage import quarantine

    path = tmp_path / "seed0.nc"
    for content in (b"first", b"second", b"third"):
        path.write_bytes(content)
        quarantine(path)
    assert not path.exists()
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert kept == {
        "seed0.nc.corrupt": b"first",
        "seed0.nc.corrupt.1": b"second",
        "seed0.nc.corrupt.2": b"third",
    }


@pytest.mark.slow
def test_combining_results_leaves_an_unreadable_fit_in_place(tmp_path):
    """Only the process holding a fit's lock repairs it; combining results just leaves it out."""
    comparison = write(tmp_path, tiny_comparison(**SHARED, seeds=[0, 1]))
    folder = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--no-report"))
    from neurosim.run_folder import stored_config, write_results
    from neurosim.runner import fit_hash

    damaged = fit_path(folder, "linear", 1)
    damaged.write_bytes(b"garbage")
    config = stored_config(folder)
    seeds = write_results(
        folder, config, lambda member, seed: fit_hash(config, member, seed), {"comparison": "x"}
    )
    assert seeds == [0] and damaged.read_bytes() == b"garbage"
    assert open_dataset(folder / "results.nc").seed.values.tolist() == [0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_a_fit_it_may_not_read_is_an_error_not_corruption(tmp_path):
    comparison = write(tmp_path)
    folder = run_folder_of(run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--no-report"))
    private = fit_path(folder, "linear", 0)
    private.chmod(0o000)
    try:
        process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), check=False)
        assert process.returncode == 2 and "Permission denied" in process.stderr
        assert "Traceback" not in process.stderr
        assert not private.with_name("seed0.nc.corrupt").exists(), "a good fit is never moved aside"
    finally:
        private.chmod(0o644)
