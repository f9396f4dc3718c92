"""The representation analysis of a stored run: `neurosim analyse` and `neurosim run --analyses`
give the same numbers, from the stored models alone; the report shows them."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurosim import config
from neurosim.analysis.representations import (
    ANALYSIS,
    MEASURES,
    analyse_representations,
    representation_summary,
    representations_section,
    stored_representations,
)
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
    assert similarity.sizes == {"kind": 2, "seed": 2, "layer__snn_mlp": 2, "layer__mlp": 3}
    # Outputs after the nonlinearity, and the MLP's current before its ReLU under ".pre".
    assert list(similarity.layer__mlp.values) == ["hidden1.pre", "hidden1", "output"]
    assert list(similarity.layer__snn_mlp.values) == ["hidden1", "output"]  # spike counts only
    assert first.attrs["hidden__snn_mlp"] == "hidden1" == first.attrs["hidden__mlp"]
    assert "Not commensurable" in first.attrs["fraction_active"]
    # ReLU keeps exactly the positive currents: "active" and the Vinje-Gallant sparseness of
    # max(a, 0) agree between the MLP's current and its output; the dimensionality need not.
    code = first["code__mlp"]
    for measure in ("fraction_active_population", "sparseness_population", "sparseness_lifetime"):
        np.testing.assert_allclose(
            code.sel(measure=measure, layer__mlp="hidden1.pre"),
            code.sel(measure=measure, layer__mlp="hidden1"),
        )
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


class _Page:
    """Records what a section writes (the report's Page protocol)."""

    def __init__(self):
        self.texts, self.figures, self.tables = [], [], []

    def heading(self, text, level=2):
        self.texts.append(text)

    def paragraph(self, text):
        self.texts.append(text)

    def table(self, header, rows):
        self.tables.append((list(header), [list(r) for r in rows]))

    def figure(self, figure, name, caption, tight=True):
        self.figures.append((name, [a.get_yticklabels() for a in figure.axes]))


def test_report_shows_layer_outputs_and_says_the_currents_are_stored(tiny_run):
    analysis = analyse_representations(tiny_run, n_stimuli=120)
    page = _Page()
    representations_section(page, analysis, xr.Dataset())
    text = " ".join(page.texts)
    assert "'<layer>.pre'" in text and "not commensurable" in text and "1-5 %" not in text
    ((_, rows),) = page.tables
    assert [row[:2] for row in rows if row[0] == "mlp"] == [["mlp", "hidden1"], ["mlp", "output"]]
    labels = [t.get_text() for _, axes in page.figures for ticks in axes for t in ticks]
    assert labels and not any(label.endswith(".pre") for label in labels)


def _similarity(values: list[float]) -> xr.Dataset:
    """A stored result with one pair's linear CKA map ``[seed, 2, 2]`` (the values at hidden x hidden)."""
    maps = np.zeros((2, len(values), 2, 2))
    maps[0, :, 1, 1] = values
    cka = xr.DataArray(
        maps,
        dims=("kind", "seed", "layer__bio", "layer__twin"),
        coords={"kind": ["linear", "debiased"], "layer__bio": ["h.pre", "h"], "layer__twin": ["t.pre", "t"]},
    )
    return xr.Dataset({"cka__bio__twin": cka}, attrs={"hidden__bio": "h", "hidden__twin": "t"})


def test_summary_reports_the_cka_of_the_last_hidden_outputs_with_a_t_interval():
    assert ANALYSIS.summary is representation_summary
    (cell,) = representation_summary(_similarity([0.5, 0.6, 0.7]), xr.Dataset(), "bio", "twin")
    # mean 0.6, s = 0.1, t(0.975, 2) = 4.303: half-width 0.248
    assert cell.difference == "CKA 0.60 [0.35, 0.85] (n=3)"
    assert (cell.bio, cell.twin, cell.better) == ("h", "t", None)
    (wide,) = representation_summary(_similarity([0.2, 0.9]), xr.Dataset(), "bio", "twin")
    assert wide.difference == "CKA 0.55 [0.00, 1.00] (n=2)"  # clipped to CKA's range
    no_hidden = _similarity([0.5, 0.6]).assign_attrs(hidden__bio="")
    assert representation_summary(no_hidden, xr.Dataset(), "bio", "twin") == []
    assert representation_summary(_similarity([0.5]), xr.Dataset(), "bio", "other") == []
