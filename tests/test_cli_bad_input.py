"""Bad input through the real CLI: exit status 2, one line on stderr, no traceback, nothing created.

Each case writes a comparison (a valid tiny one, edited) into a fresh folder, runs ``neurosim`` with
``--out`` inside that folder, and checks that the error names the problem and that no run folder was
made (or only what the case allows). Each test runs ``neurosim`` both in this process
(``neurosim.cli.main``, the ``cli_in_process`` fixture) and as the real command in a subprocess, which
starts Python and imports torch each time: the subprocess runs are in the slow suite, but for the
first case.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .conftest import IN_PROCESS, SUBPROCESS, tiny_comparison

VALID = tiny_comparison(
    name="bad",
    description="bad-input cases",
    pairs=["perceptron_linear", "snn_mlp_mlp"],
    task={"n_per_class": 5},
    training={"epochs": 1, "lr": None},
    models={"snn_mlp": {"hidden_sizes": [16], "n_steps": 2}},
)


def edited(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new)


def added(text: str) -> str:
    return VALID + text


# (id, comparison text or None for the valid one, extra CLI arguments, expected part of the message)
CASES = [
    (
        "hidden_sizes as a string",
        edited("[16]", '"64"'),
        [],
        "'models.snn_mlp.hidden_sizes' must be a non-empty",
    ),
    ("--set list not TOML", None, ["--set", "models.snn_mlp.hidden_sizes=[64,"], "not TOML is read as text"),
    ("--set list as a number", None, ["--set", "models.snn_mlp.hidden_sizes=64"], "got 64"),
    ("--set zero width", None, ["--set", "models.snn_mlp.hidden_sizes=[0]"], "integer in [1, 1000000]"),
    ("--set float width", None, ["--set", "models.snn_mlp.hidden_sizes=[1.5]"], "got [1.5]"),
    ("huge width", None, ["--set", "models.snn_mlp.hidden_sizes=[10000000000]"], "integer in [1, 1000000]"),
    ("lr inf", added("[models.mlp.training]\nlr = inf\n"), [], "'models.mlp.training.lr' must be a finite"),
    ("lr nan", added("[models.mlp.training]\nlr = nan\n"), [], "got nan"),
    ("lr text", None, ["--set", "training.lr=abc"], "'training.lr' must be a finite number > 0, got 'abc'"),
    ("negative weight decay", None, ["--set", "training.weight_decay=-1"], "'training.weight_decay'"),
    ("beta above 1", None, ["--set", "models.snn_mlp.beta=2"], "'models.snn_mlp.beta' must be a finite"),
    ("readout not a choice", None, ["--set", 'models.snn_mlp.readout="last"'], 'one of "membrane_mean"'),
    ("bool for a number", None, ["--set", "training.epochs=true"], "'training.epochs' must be an integer"),
    ("seeds repeated", edited("seeds = [0]", "seeds = [0, 0]"), [], "lists [0] more than once"),
    ("seed overflows", None, ["--seeds", "99999999999999"], "integer in [0, 4294967295]"),
    ("negative seed", None, ["--seeds", "-1"], "integer in [0, 4294967295]"),
    ("no seeds", edited("seeds = [0]", "seeds = []"), [], "'seeds' must be a non-empty list"),
    ("format version", edited("version = 1", "version = 99"), [], "reads comparison format version 1"),
    ("name leaves --out", edited('name = "bad"', 'name = "../../x"'), [], "'name' must be a name of 1-64"),
    ("name with a slash", edited('name = "bad"', 'name = "a/b"'), [], "'name' must be a name"),
    ("name with markup", edited('name = "bad"', 'name = "x<script>"'), [], "'name' must be a name"),
    (
        "member renamed to markup",
        added('[pair_members.snn_mlp_mlp]\nmlp = "lin\\" onerror=\\"alert(4)"\n'),
        [],
        "'pair_members.snn_mlp_mlp.mlp' must be a name",
    ),
    ("member table name", added('[models."../evil"]\nmodel = "mlp"\n'), [], "the name '../evil' in [models]"),
    ("too many checkpoints", None, ["--set", "training.n_checkpoints=100000"], "integer in [1, 1000]"),
    ("unknown training key", None, ["--set", "training.epochz=2"], "unknown key 'epochz' in [training]"),
    ("unknown top key", "colour = 1\n" + VALID, [], "unknown key 'colour' in the comparison"),
    ("unknown model option", None, ["--set", "models.mlp.depth=2"], "valid options: hidden_sizes"),
    ("unknown task option", None, ["--set", "task.options.n_bits=3"], "unknown option 'n_bits' for task"),
    ("unknown constant", None, ["--set", "models.snn_mlp.n_stepz=3"], "unknown option 'n_stepz'"),
    ("device", None, ["--set", "device=gpu"], '\'device\' must be "auto", "cpu", "cuda"'),
    ("n_per_class zero", None, ["--set", "task.n_per_class=0"], "'task.n_per_class' must be an integer >= 1"),
    ("n_per_class too large", None, ["--set", "task.n_per_class=100000"], "n_per_class=100000 is too large"),
    ("budget per member", added("[models.mlp.training]\nepochs = 3\n"), [], "may not set epochs"),
    ("unknown pair", None, ["--set", 'pairs=["nope"]'], "unknown pair 'nope'"),
    (
        "training not a table",
        "training = 5\n" + edited("[training]\nepochs = 1\nbatch_size = 16\n", ""),
        [],
        "must be a table",
    ),
    ("TOML syntax", added("[models.mlp\n"), [], "not a valid TOML file"),
    ("--set without =", None, ["--set", "training.epochs"], "expects key=value"),
    ("unknown analysis", None, ["--analyses", "nope"], "unknown analysis 'nope'"),
    ("retired analysis", None, ["--analyses", "attacks"], "the analysis 'attacks' was retired"),
    (
        "labels per class without few_labels",
        None,
        ["--analyses", "energy", "--labels-per-class", "5"],
        "--labels-per-class applies to the analyses few_labels",
    ),
    (
        "labels per class zero",
        None,
        ["--analyses", "few_labels", "--labels-per-class", "5", "0"],
        "labels per class must be positive whole numbers",
    ),
    ("a date for text", None, ["--set", "description=1979-05-27"], "must not be a date or time"),
    ("version true", edited("version = 1", "version = true"), [], "reads comparison format version 1"),
    ("version 1.0", edited("version = 1", "version = 1.0"), [], "reads comparison format version 1"),
    # Each layer within bounds, their product (4e12 weights) beyond any machine's memory.
    (
        "model too large",
        None,
        ["--set", "models.snn_mlp.hidden_sizes=[1000000, 1000000]"],
        "needs more memory",
    ),
    (
        "stdp too short",
        'pairs = ["diehl_cook_mlp_kmeans"]\n[models.diehl_cook.constants]\npresentation = 0.1\n',
        [],
        "must last at least one step",
    ),
    (
        "slots without the batched mode",
        'pairs = ["diehl_cook_mlp_kmeans"]\n[models.diehl_cook]\nbatch_size = 20\n',
        [],
        "set mode = 'batched'",
    ),
]


def both_ways(cases: list[tuple]) -> list:
    """``neurosim_cli``'s two ways for each case, the subprocess in the slow suite but for the first
    case (so that the fast suite still runs the real command once)."""
    return [
        pytest.param(
            way, *case, id=f"{way}-{name}", marks=() if way == IN_PROCESS or i == 0 else pytest.mark.slow
        )
        for i, (name, *case) in enumerate(cases)
        for way in (IN_PROCESS, SUBPROCESS)
    ]


def _run(neurosim_cli, tmp_path: Path, text: str | None, extra: list[str], command: str = "run"):
    comparison = tmp_path / "bad.toml"
    comparison.write_text(VALID if text is None else text, encoding="utf-8")
    return neurosim_cli(
        command, str(comparison), "--out", str(tmp_path / "out"), "--quiet", *extra, check=False
    )


def assert_one_line_error(process, message: str) -> None:
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("neurosim: error: ")
    assert message in lines[0], lines[0]


@pytest.mark.parametrize(
    ("neurosim_cli", "text", "extra", "message"), both_ways(CASES), indirect=["neurosim_cli"]
)
def test_bad_comparison_is_one_line_error_and_creates_nothing(neurosim_cli, tmp_path, text, extra, message):
    process = _run(neurosim_cli, tmp_path, text, extra)
    assert_one_line_error(process, message)
    assert not (tmp_path / "out").exists()


def test_the_valid_comparison_of_these_cases_runs(neurosim_cli, tmp_path):
    """The cases above fail because of their edit, not because the base comparison is broken."""
    process = _run(neurosim_cli, tmp_path, None, ["--dry-run"])
    assert process.returncode == 0, process.stderr
    assert "snn_mlp (snn_mlp, bio) seed 0: to train" in process.stdout
    assert not (tmp_path / "out").exists(), "--dry-run creates nothing"


def test_a_folder_as_the_comparison(neurosim_cli, tmp_path):
    process = neurosim_cli("run", str(tmp_path), "--out", str(tmp_path / "out"), check=False)
    assert_one_line_error(process, "is a folder; give a comparison file")


def test_a_binary_comparison_file(neurosim_cli, tmp_path):
    comparison = tmp_path / "binary.toml"
    comparison.write_bytes(os.urandom(256) + b"\xff\xfe")
    process = neurosim_cli("run", str(comparison), "--out", str(tmp_path / "out"), check=False)
    assert_one_line_error(process, "not a valid TOML file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inside", [False, True], ids=["is a file", "below a file"])
def test_out_that_is_a_file(neurosim_cli, tmp_path, inside):
    (tmp_path / "out-file").write_text("not a folder")
    out = tmp_path / "out-file" / "runs" if inside else tmp_path / "out-file"
    comparison = tmp_path / "ok.toml"
    comparison.write_text(VALID)
    process = neurosim_cli("run", str(comparison), "--out", str(out), check=False)
    assert_one_line_error(process, "is a file, not a folder")
    assert (tmp_path / "out-file").read_text() == "not a folder"


@pytest.mark.skipif(sys.platform != "linux", reason="needs Linux's read-only /sys")
def test_out_on_a_read_only_file_system(neurosim_cli, tmp_path):
    """/sys refuses new folders even to root (who may write any folder whose mode forbids it)."""
    comparison = tmp_path / "ok.toml"
    comparison.write_text(VALID)
    process = neurosim_cli("run", str(comparison), "--out", "/sys/neurosim-runs", "--quiet", check=False)
    assert_one_line_error(process, "/sys/neurosim-runs")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes read-only folders")
def test_out_in_a_read_only_folder(neurosim_cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    comparison = tmp_path / "ok.toml"
    comparison.write_text(VALID)
    process = neurosim_cli("run", str(comparison), "--out", str(locked / "runs"), check=False)
    assert_one_line_error(process, "no permission to write")


def test_report_errors(neurosim_cli, tmp_path):
    assert_one_line_error(neurosim_cli("report", str(tmp_path), check=False), "holds no results.nc")
    (tmp_path / "results.nc").write_bytes(os.urandom(512))
    # An unreadable results.nc is rebuilt from the fits (tests/test_run_folder.py), which needs the
    # run's config.json: without it, the error names the file and nothing is moved.
    process = neurosim_cli("report", str(tmp_path), check=False)
    assert_one_line_error(process, f"cannot read {tmp_path / 'results.nc'}: ")
    assert "has no config.json to rebuild it from" in process.stderr
    assert (tmp_path / "results.nc").is_file()
    (tmp_path / "a-file").write_text("x")
    process = neurosim_cli("report", str(tmp_path), "--out", str(tmp_path / "a-file"), check=False)
    assert_one_line_error(process, "is a file, not a folder")


def test_analyse_and_data_errors(neurosim_cli, tmp_path):
    assert_one_line_error(neurosim_cli("analyse", str(tmp_path), check=False), "holds no results.nc")
    assert_one_line_error(neurosim_cli("data", "fetch", "nope", check=False), "unknown dataset 'nope'")
    assert_one_line_error(neurosim_cli("run", "no_such_comparison", check=False), "unknown comparison")


@pytest.mark.parametrize(
    ("module", "arguments", "extra"),
    [
        ("art", ["run", "{comparison}", "--out", "{out}", "--analyses", "attack_suite"], "attacks"),
        ("dask_jobqueue", ["sweep", "{comparison}", "--out", "{out}", "--cluster", "slurm"], "slurm"),
    ],
)
def test_a_missing_extra_is_named_before_anything_is_created(
    tmp_path, monkeypatch, capsys, module, arguments, extra
):
    """Without an extra's module, a command that needs it fails at once with one line naming the
    extra that installs it, and creates nothing (the module is hidden from the import system)."""
    import importlib.util

    from neurosim.cli import main

    found = importlib.util.find_spec
    hidden = lambda name, *rest: None if name == module else found(name, *rest)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    comparison = tmp_path / "c.toml"
    comparison.write_text(VALID)
    out = tmp_path / "out"
    status = main([a.format(comparison=comparison, out=out) for a in arguments])
    error = capsys.readouterr().err
    assert status == 2 and not out.exists()
    assert f"pip install 'neurosim-pairs[{extra}]'" in error and error.count("\n") == 1, error
