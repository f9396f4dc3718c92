"""The Python interface (``neurosim.run`` and friends) does what the command line does."""

from __future__ import annotations

import subprocess
import sys

import pytest

import neurosim
from neurosim.errors import UserError
from tests.conftest import REPO, TINY_STORED_RUN


def test_run_open_results_and_report(tmp_path):
    # The subpackages neurosim.report and neurosim.sweep, once imported, must not hide a function.
    import neurosim.report
    import neurosim.sweep

    comparison = tmp_path / "tiny.toml"
    comparison.write_text(TINY_STORED_RUN)
    run_dir = neurosim.run(comparison, overrides=["training.epochs=2"], seeds=[1], out=tmp_path / "runs")
    results = neurosim.open_results(run_dir)
    assert results.seed.values.tolist() == [1] and '"epochs": 2' in results.attrs["config"]
    assert set(results.model.values) == {"perceptron", "linear"}
    assert 0.5 < float(results.final_test_accuracy.min()) <= 1.0
    html = neurosim.build_report(run_dir)
    assert html.name == "report.html" and "perceptron" in html.read_text()
    again = neurosim.run(comparison, overrides=["training.epochs=2"], seeds=[1], out=tmp_path / "runs")
    assert again == run_dir  # the same folder, its fits reused


def test_tasks_and_models_by_name_with_checked_options():
    task = neurosim.load_task("xor")
    model = neurosim.create_model("mlp", task.input_shape, task.n_classes, hidden_sizes=[4])
    assert model(task.x_test).shape == (len(task.x_test), task.n_classes)
    with pytest.raises(UserError, match="valid options: hidden_sizes"):
        neurosim.create_model("mlp", task.input_shape, task.n_classes, width=4)
    with pytest.raises(UserError, match="unknown model 'nope'"):
        neurosim.create_model("nope", (2,), 2)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        neurosim.nope  # noqa: B018


def test_importing_the_package_stays_light():
    """``import neurosim`` imports neither torch nor the interface until one is used."""
    code = "import sys, neurosim; print('torch' in sys.modules, 'neurosim.api' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert output.stdout.split() == ["False", "False"]
