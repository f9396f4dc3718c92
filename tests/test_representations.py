"""The representation analysis of a stored run: `neurosim analyse` and `neurosim run --analyses`
give the same numbers, from the stored models alone; the report shows them."""

from pathlib import Path

import numpy as np
import pytest

from neurosim import config
from neurosim.analysis.representations import MEASURES, analyse_representations, stored_representations
from neurosim.runner import run_comparison

from .conftest import run_cli, tiny_comparison

SPIKING = tiny_comparison(
    name="tiny_representations",
    description="spiking MLP vs MLP, tiny",
    seeds=[0, 1],
    pairs=["snn_mlp_mlp"],
    task={"n_per_class": 20},
    models={"snn_mlp": {"hidden_sizes": [24], "n_steps": 4}},
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return run_comparison(config.resolve(config.tomllib.loads(SPIKING)), root=root)


def test_analysis_has_documented_dims_and_is_reproducible(tiny_run):
    first = analyse_representations(tiny_run, n_stimuli=120)
    similarity = first["cka__snn_mlp__mlp"]
    assert similarity.dims == ("kind", "seed", "layer__snn_mlp", "layer__mlp")
    assert similarity.sizes == {"kind": 2, "seed": 2, "layer__snn_mlp": 2, "layer__mlp": 2}
    assert ((similarity.sel(kind="linear") >= 0) & (similarity.sel(kind="linear") <= 1 + 1e-9)).all()
    code = first["code__snn_mlp"]
    assert list(code.measure.values) == list(MEASURES)
    active = code.sel(measure="fraction_active_population").values
    assert ((active >= 0) & (active <= 1)).all()
    assert first.attrs["n_stimuli"] == 120
    rsa = first["rsa__snn_mlp__mlp"]
    assert rsa.dims == ("statistic", "seed", "layer__snn_mlp", "layer__mlp")
    assert ((rsa >= -1 - 1e-9) & (rsa <= 1 + 1e-9)).all()
    assert (rsa.sel(statistic="low") <= rsa.sel(statistic="high")).all()
    n_conditions = len(first.attrs["rdm_conditions"])
    assert first["rdm__mlp"].sizes["condition_pair"] == n_conditions * (n_conditions - 1) // 2
    second = analyse_representations(tiny_run, n_stimuli=120)
    for name in first.data_vars:
        np.testing.assert_array_equal(first[name].values, second[name].values)
    stored = stored_representations(tiny_run)
    np.testing.assert_array_equal(stored["cka__snn_mlp__mlp"].values, similarity.values)


@pytest.mark.slow
def test_analyse_after_training_reproduces_the_analysis_run_with_training(tmp_path):
    comparison = tmp_path / "tiny.toml"
    comparison.write_text(SPIKING)
    out = tmp_path / "runs"
    run_cli(
        "run",
        str(comparison),
        "--out",
        str(out),
        "--quiet",
        "--analyses",
        "representations",
        "--stimuli",
        "80",
    )
    run_dir = next(out.iterdir())
    during = stored_representations(run_dir)
    process = run_cli("analyse", str(run_dir), "--stimuli", "80")
    later = stored_representations(run_dir)
    for name in during.data_vars:
        np.testing.assert_array_equal(during[name].values, later[name].values)
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    page = report.read_text()
    assert "Representations (the first 80 test images of digits" in page
    assert (report.parent / "figures" / "cka_snn_mlp_mlp.png").stat().st_size > 1000


def test_unknown_analysis_is_refused_before_any_training(neurosim_cli, tmp_path):
    comparison = tmp_path / "tiny.toml"
    comparison.write_text(SPIKING)
    process = neurosim_cli(
        "run", str(comparison), "--out", str(tmp_path / "runs"), "--analyses", "rsa", check=False
    )
    assert process.returncode == 2
    assert "unknown analysis 'rsa'" in process.stderr and "representations" in process.stderr
    assert not (tmp_path / "runs").exists()
    missing = neurosim_cli("analyse", str(tmp_path), check=False)
    assert missing.returncode == 2 and "holds no results.nc" in missing.stderr
