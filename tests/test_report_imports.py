"""The report reads stored results only: importing it, the analyses' registry (every study's report
section) and the pure analysis functions, or running ``neurosim report``, loads no model, rule,
training, runner or run-loading code (the studies import that inside their compute functions,
:mod:`neurosim.analysis.study`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.conftest import REPO

FORBIDDEN = (
    "neurosim.models",
    "neurosim.training",
    "neurosim.rules",
    "neurosim.runner",
    "neurosim.run_loading",
)
PURE = ("cka", "rdm", "sparseness", "statistics", "transforms", "sample_efficiency")


def _forbidden_after(code: str) -> list[str]:
    """The forbidden modules in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    check = (
        f"\nimport json, sys\nforbidden = {FORBIDDEN!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') "
        "for f in forbidden))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.run(
        [sys.executable, "-c", code + check], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert process.returncode == 0, process.stderr
    loaded: list[str] = json.loads(process.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_report_and_the_analyses_loads_no_model_code():
    modules = [
        "neurosim.report.build",
        "neurosim.report.sweep",
        "neurosim.analysis.registry",
        *(f"neurosim.analysis.{name}" for name in PURE),
    ]
    code = "\n".join(f"import {module}" for module in modules)
    code += (
        "\nfrom neurosim import cli\ncli.parser().parse_args(['analyse', 'x']); cli.parser().format_help()"
    )
    assert _forbidden_after(code) == []


def test_neurosim_report_loads_no_model_code(stored_perceptron_run, tmp_path):
    from neurosim.analysis.weight_statistics import analyse_weight_statistics

    run = shutil.copytree(stored_perceptron_run, tmp_path / "run")
    analyse_weight_statistics(run)  # so that a study's section is written too
    out = tmp_path / "report"
    code = f"from neurosim.cli import main\nassert main(['report', {str(run)!r}, '--out', {str(out)!r}]) == 0"
    assert _forbidden_after(code) == []
    assert "Weight statistics" in (out / "report.md").read_text()
