"""The CLI's own commands and options: schema, --dry-run, --analyses help, provenance of threads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import tomllib

from neurosim import cli
from neurosim.analysis.registry import ANALYSES
from neurosim.config import list_comparisons
from neurosim.results import open_dataset

from .conftest import REPO, run_cli


def test_schema_command_writes_a_json_schema_every_shipped_comparison_meets(neurosim_cli, tmp_path):
    path = tmp_path / "comparison.schema.json"
    neurosim_cli("schema", "--out", str(path))
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in list_comparisons():
        raw = tomllib.loads((REPO / "comparisons" / f"{name}.toml").read_text())
        assert not list(validator.iter_errors(raw)), name
    assert schema["properties"]["models"]["properties"]["mlp"]["anyOf"][0] == {"$ref": "#/$defs/member_mlp"}
    mlp = schema["$defs"]["member_mlp"]["properties"]
    assert mlp["hidden_sizes"]["items"] == {"maximum": 1000000, "minimum": 1, "type": "integer"}
    assert mlp["activation"]["enum"] == ["relu", "tanh", "sigmoid"]
    assert not validator.is_valid({"training": {"lr": -1}})


def test_dry_run_prints_the_plan_and_creates_nothing(neurosim_cli, tmp_path):
    out = tmp_path / "runs"
    process = neurosim_cli("run", "quickstart", "--dry-run", "--out", str(out), "--seeds", "0", "5")
    resolved = json.loads(process.stdout[: process.stdout.index("\nrun folder: ")])
    assert resolved["seeds"] == [0, 5]
    assert "(would be created; device" in process.stdout
    assert "  diehl_cook (diehl_cook, bio) seed 5: to train" in process.stdout
    assert not out.exists()
    # A pair's unsupervised control is named so, not as a twin (quickstart leaves them out).
    controls = neurosim_cli("run", "quickstart", "--dry-run", "--seeds", "0", "--set", "controls=true")
    assert "  krotov_kmeans (krotov_kmeans, control) seed 0: to train" in controls.stdout
    assert "  krotov_backprop (krotov_backprop, twin) seed 0: to train" in controls.stdout


def test_set_keeps_text_only_where_a_string_is_declared(neurosim_cli, tmp_path):
    comparison = tmp_path / "c.toml"
    comparison.write_text('pairs = ["perceptron_linear"]\n')
    accepted = neurosim_cli("run", str(comparison), "--dry-run", "--set", "device=cpu", "--set", "name=plain")
    assert '"device": "cpu"' in accepted.stdout and '"name": "plain"' in accepted.stdout


def test_analyses_help_names_every_registered_analysis():
    help_text = cli.parser()._subparsers._group_actions[0].choices["analyse"].format_help()
    for name in ANALYSES.list():
        assert f"{name} ({ANALYSES.get(name).description})" in " ".join(help_text.split())


def test_results_record_threads_and_describe_each_loss(stored_perceptron_run: Path):
    results = open_dataset(stored_perceptron_run / "results.nc")
    assert int(results.attrs["torch_threads"]) >= 1 and results.attrs["threads_source"]
    description = results.train_loss.attrs["description"]
    assert "cross_entropy: mean cross-entropy" in description and "online_error_rate: fraction" in description


@pytest.mark.slow
def test_a_run_without_a_terminal_logs_progress(tmp_path):
    comparison = tmp_path / "c.toml"
    comparison.write_text(
        'pairs = ["perceptron_linear"]\ndevice = "cpu"\n[task]\nn_per_class = 10\n[training]\nepochs = 2\n'
    )
    # One process: a standby worker may otherwise train the fit, and its log lines name the worker.
    out = str(tmp_path / "runs")
    process = run_cli("run", str(comparison), "--out", out, "--no-report", "--workers", "1")
    assert "linear seed 0: 100 % of " in process.stderr and "s left" in process.stderr
