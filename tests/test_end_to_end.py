"""End to end: the CLI in a subprocess, reproducibility, resume after a kill, accuracy bands."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosim import config
from neurosim.results import open_dataset, validate_fit
from neurosim.results.schema import TIMING_VARIABLES
from neurosim.runner import run_comparison

from .conftest import REPO, run_cli, tiny_comparison

TINY = tiny_comparison(
    description="tiny end-to-end comparison",
    seeds=[0, 1],
    pairs=["perceptron_linear", "perceptron_rosenblatt_mlp"],
    task={"n_per_class": 20},
    models={"perceptron_rosenblatt": {"n_association_units": 64}},
)


def results_without_timing(run_dir: Path) -> xr.Dataset:
    return open_dataset(run_dir / "results.nc").drop_vars(list(TIMING_VARIABLES)).drop_attrs()


def test_cli_run_writes_valid_results_and_a_report(tmp_path):
    comparison = tmp_path / "tiny.toml"
    comparison.write_text(TINY)
    process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    run_dir = report.parents[1]
    results = open_dataset(run_dir / "results.nc")
    assert results.final_test_accuracy.dims == ("model", "seed")
    assert sorted(results.model.values.tolist()) == [
        "linear",
        "mlp",
        "perceptron",
        "perceptron_rosenblatt",
    ]
    assert json.loads(results.attrs["config"])["task"]["n_per_class"] == 20
    for fit in (run_dir / "fits").glob("*/seed*.nc"):
        validate_fit(open_dataset(fit))
    page = report.read_text()
    assert "perceptron_rosenblatt_mlp" in page and "95 % CI" in page
    for image in report.parent.glob("figures/*.png"):
        assert f"figures/{image.name}" in page and image.stat().st_size > 1000
    assert (report.parent / "report.md").read_text().count("![") == len(
        list(report.parent.glob("figures/*.png"))
    )
    # the report is rebuilt from stored results alone
    rebuilt = run_cli("report", str(run_dir))
    assert rebuilt.stdout.strip() == str(report)


def test_cli_user_errors_are_one_line_without_traceback(neurosim_cli, tmp_path):
    for args, message in [
        (("run", "no_such_comparison"), "valid choices: digits_neocognitron, fashion_mnist_hebbian"),
        (
            ("run", "quickstart", "--set", "models.mlp.depth=2", "--out", str(tmp_path)),
            "valid options: hidden_sizes",
        ),
        (("report", str(tmp_path)), "holds no results.nc"),
        (
            ("data", "fetch", "cifar"),
            "unknown dataset 'cifar'; valid choices: fashion_mnist, mnist",
        ),
    ]:
        process = neurosim_cli(*args, check=False)
        assert process.returncode == 2
        assert message in process.stderr and "Traceback" not in process.stderr


def test_cli_lists_registries(neurosim_cli):
    assert "perceptron_rosenblatt" in neurosim_cli("list", "models").stdout.split()
    assert "quickstart" in neurosim_cli("list", "comparisons").stdout.split()
    assert (
        "perceptron_rosenblatt_mlp: perceptron_rosenblatt vs mlp (held equal: units)"
        in neurosim_cli("list", "pairs").stdout
    )


def test_same_seed_twice_is_bitwise_identical(tmp_path):
    resolved = config.resolve(config.tomllib.loads(TINY))
    first = run_comparison(resolved, root=tmp_path / "a")
    second = run_comparison(resolved, root=tmp_path / "b")
    xr.testing.assert_identical(results_without_timing(first), results_without_timing(second))


RESUME = """
version = 1
name = "resume"
seeds = [0]
device = "cpu"
extra_models = ["mlp"]
[task]
name = "digits"
[training]
epochs = 60
batch_size = 8
lr = 0.001
n_checkpoints = 60
"""


@pytest.mark.slow
def test_killed_run_resumes_to_identical_results(tmp_path):
    comparison = tmp_path / "resume.toml"
    comparison.write_text(RESUME)
    command = [
        sys.executable,
        "-m",
        "neurosim",
        "run",
        str(comparison),
        "--out",
        str(tmp_path / "killed"),
        "--quiet",
        "--no-report",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    checkpoints = []
    while time.time() < deadline and process.poll() is None:
        checkpoints = list((tmp_path / "killed").glob("*/fits/mlp/seed0.ckpt.pt"))
        if checkpoints and checkpoints[0].stat().st_size > 0:
            time.sleep(1.0)  # let it train past the first checkpoints
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoints, "the run should have written a checkpoint before being killed"
    run_dir = checkpoints[0].parents[2]
    assert not (run_dir / "fits/mlp/seed0.nc").exists(), "killed mid-way: no finished result yet"

    resumed = run_cli("run", str(comparison), "--out", str(tmp_path / "killed"), "--quiet", "--no-report")
    assert "resuming from step" in resumed.stderr
    run_cli("run", str(comparison), "--out", str(tmp_path / "clean"), "--quiet", "--no-report")
    clean_dir = next((tmp_path / "clean").iterdir())
    xr.testing.assert_identical(results_without_timing(run_dir), results_without_timing(clean_dir))
    # a finished fit is not recomputed on a third run
    again = run_cli("run", str(comparison), "--out", str(tmp_path / "killed"), "--quiet", "--no-report")
    assert "already finished; skipping" in again.stderr


@pytest.mark.slow
def test_quickstart_accuracy_bands_on_digits(tmp_path):
    resolved = config.load(REPO / "comparisons" / "quickstart.toml", ["device=cpu"])
    results = open_dataset(run_comparison(resolved, root=tmp_path) / "results.nc")
    mean = results.final_test_accuracy.mean("seed")
    # Bands below the means measured at the shipped budget (5 epochs; 2 CPU cores, 3 seeds):
    # linear 0.914, mlp 0.948, perceptron 0.925, averaged 0.946, photoperceptron 0.952,
    # neocognitron 0.962, lenet5 0.956, diehl_cook 0.824 (the exact mode, fit version 6; 0.765 in 20
    # batched slots, fit version 5), kmeans 0.928, mlp_dc 0.948.
    assert float(mean.sel(model="linear")) >= 0.89
    assert float(mean.sel(model="mlp")) >= 0.92
    assert float(mean.sel(model="perceptron")) >= 0.85
    assert float(mean.sel(model="perceptron_averaged")) >= float(mean.sel(model="perceptron"))
    assert float(mean.sel(model="perceptron_rosenblatt")) >= 0.85
    assert float(mean.sel(model="neocognitron")) >= 0.93
    assert float(mean.sel(model="lenet5")) >= 0.93
    # Diehl & Cook's network learns from one unlabelled pass over the 1,442 training digits; its
    # twins are far ahead on this little data.
    assert float(mean.sel(model="diehl_cook")) >= 0.78
    assert float(mean.sel(model="kmeans")) >= 0.88 and float(mean.sel(model="mlp_dc")) >= 0.92
    # No other member may sit near chance on any seed (a diverged fit, e.g. a learning rate the
    # member cannot take; chance is 0.1); the lowest measured here is a spiking CNN seed, 0.73-0.76
    # after 5 epochs.
    assert float(results.final_test_accuracy.drop_sel(model="diehl_cook").min()) >= 0.6
    # Every local rule learnt by its convergence diagnostic, except the SoftHebb CNN's second block:
    # at this budget its kernels stay far from the unit sphere (norms ~5 from 25), and the report
    # says so (see the comparison file).
    learners = ["hebbian_krotov", "softhebb_mlp", "neocognitron", "diehl_cook", "kmeans"]
    assert (results.learnt.sel(model=learners) == 1).all(), results.convergence.sel(model=learners).values
    assert (results.learnt.sel(model="softhebb_cnn") == 0).all()
    assert (results.learnt.sel(model=["mlp", "lenet5", "perceptron"]) == -1).all()


@pytest.mark.slow
def test_xor_comparison_shows_the_minsky_papert_limit(tmp_path):
    resolved = config.load(REPO / "comparisons" / "xor.toml")
    results = open_dataset(run_comparison(resolved, root=tmp_path) / "results.nc")
    train = results.train_accuracy
    assert float(train.sel(model="perceptron").max()) <= 0.75  # any seed, any checkpoint
    assert float(train.sel(model="linear").max()) <= 0.75
    mlp_solved = (results.final_test_accuracy.sel(model="mlp") == 1.0).sum()
    assert int(mlp_solved) >= 9, "the MLP must solve XOR on at least 9 of 10 seeds"
    assert bool((results.final_test_accuracy.sel(model="perceptron_rosenblatt") == 1.0).all())
    assert np.all(results.n_parameters_fixed.sel(model="perceptron_rosenblatt").values > 0)
