"""Fuzz: 600 mutations of a valid comparison through ``neurosim run --dry-run``.

Each case changes one to three entries of a valid comparison (a wrong type, an out-of-range or
non-finite number, a huge number, unicode, path characters, a missing or an unknown key, a
repeated seed) with a seeded generator, writes it as TOML and runs the CLI's ``main`` on it with
``--dry-run`` (every check of a real run, nothing created). Every outcome must be exit 0 or a
one-line error with exit 2, never an exception; nothing may be created; and every comparison the
CLI accepts must satisfy the exported JSON Schema, checked by an independent validator
(jsonschema), so no run can train with a value the schema forbids.
"""

from __future__ import annotations

import copy
import datetime
import random
import re

import jsonschema
import pytest
import tomli_w

from neurosim import cli
from neurosim.config_schema import comparison_schema
from neurosim.models import MODELS
from neurosim.options import factory_parameters
from neurosim.tasks import TASKS

N_CASES = 600

BASE = {
    "version": 1,
    "name": "fuzz",
    "description": "fuzzed",
    "seeds": [0, 1],
    "device": "cpu",
    "pairs": ["perceptron_linear", "snn_mlp_mlp", "diehl_cook_mlp_kmeans"],
    "extra_models": ["mlp_ref"],
    "pair_members": {"diehl_cook_mlp_kmeans": {"mlp": "mlp_dc"}},
    "task": {"name": "digits", "n_per_class": 5},
    "training": {"epochs": 1, "batch_size": 16, "lr": 0.01},
    "models": {
        "snn_mlp": {"hidden_sizes": [16], "n_steps": 2},
        "mlp_dc": {"hidden_sizes": [10]},
        "diehl_cook": {
            "n_neurons": 10,
            "mode": "batched",
            "batch_size": 10,
            "constants": {"presentation": 50.0},
        },
        "kmeans": {"n_prototypes": 10},
        "mlp_ref": {"model": "mlp", "hidden_sizes": [8], "training": {"lr": 0.1}},
    },
}

VALUES = [
    0, 1, 2, 3, -1, 7, 1000, 2**31, 2**63 - 1, -(2**63), 10**30,
    0.0, 0.5, -0.5, 1.0, 2.5, 1e-300, 1e300, float("inf"), float("-inf"), float("nan"),
    True, False,
    "", "64", "relu", "all", "cpu", "cuda", "adam", "ünïcødé ∂", "../x", "a/b", 'x" onerror="y', "<b>",
    "\u0000", "a" * 300,
    [], [1], [0], [16, 16], [1.5], ["a"], [[1]], [True], [10**12], [float("nan")],
    {}, {"x": 1}, {"presentation": -1.0}, {"dt": 0.25}, {"integration": "rk4"},
    datetime.date(2026, 12, 3),
]  # fmt: skip


def key_paths() -> list[tuple[str, ...]]:
    """Every entry a comparison may have, plus unknown ones, as paths into the table."""
    paths = [(key,) for key in BASE] + [("colour",), ("sweep",)]
    paths += [
        ("training", k)
        for k in (
            "epochs",
            "batch_size",
            "lr",
            "optimizer",
            "momentum",
            "weight_decay",
            "lr_schedule",
            "n_checkpoints",
            "unsupervised_epochs",
            "epochz",
        )
    ]
    paths += [("task", k) for k in ("name", "n_per_class", "subset_seed", "options", "size")]
    paths += [("task", "options", k) for k in ("n_bits", "data_dir", "x")]
    for member, table in BASE["models"].items():
        model = table.get("model", {"mlp_dc": "mlp"}.get(member, member))
        options = list(factory_parameters(MODELS.get(model), ("input_shape", "n_classes")))
        paths += [("models", member, k) for k in [*options, "model", "training", "nope"]]
        paths += [("models", member, "training", k) for k in ("lr", "epochs", "momentum")]
    paths += [("models", "diehl_cook", "constants", k) for k in ("dt", "tau_theta", "integration", "foo")]
    paths += [("pair_members", "diehl_cook_mlp_kmeans", k) for k in ("mlp", "kmeans", "bio")]
    paths += [("seeds", 0), ("seeds", 1), ("models", "snn_mlp", "hidden_sizes", 0)]
    return paths


def mutate(table: dict, generator: random.Random, paths: list[tuple]) -> dict:
    table = copy.deepcopy(table)
    for _ in range(generator.randint(1, 3)):
        path = generator.choice(paths)
        parent = table
        for part in path[:-1]:
            child = parent[part] if isinstance(parent, list) else parent.get(part)
            if not isinstance(child, (dict, list)):
                child = {}
                parent[part] = child
            parent = child
        last = path[-1]
        action = generator.random()
        if isinstance(parent, list):
            if isinstance(last, int) and last < len(parent):
                parent[last] = generator.choice(VALUES)
        elif action < 0.15:
            parent.pop(last, None)
        elif action < 0.2 and path[0] == "seeds":
            table["seeds"] = [0, 0]
        else:
            parent[last] = copy.deepcopy(generator.choice(VALUES))
    return table


def as_json(value):
    """The TOML data as JSON data for the schema check (dates become strings, as TOML text)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(comparison_schema())


def test_the_base_comparison_is_valid(tmp_path, capsys, validator):
    path = tmp_path / "base.toml"
    path.write_text(tomli_w.dumps(BASE))
    assert cli.main(["run", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert "diehl_cook (diehl_cook, bio) seed 1: to train" in capsys.readouterr().out
    validator.validate(BASE)
    assert TASKS.get("digits")  # the base task exists


def test_fuzzed_comparisons_are_accepted_or_refused_in_one_line(tmp_path, capsys, validator):
    generator = random.Random(20261203)
    paths = key_paths()
    outcomes = {0: 0, 2: 0}
    messages = set()
    for case in range(N_CASES):
        raw = mutate(BASE, generator, paths)
        path = tmp_path / f"case{case}.toml"
        try:
            path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        except (TypeError, ValueError):  # not representable in TOML (e.g. a NUL in a key)
            continue
        out = tmp_path / "out"
        try:
            status = cli.main(["run", str(path), "--dry-run", "--out", str(out)])
        except BaseException as error:
            pytest.fail(f"case {case} raised {type(error).__name__}: {error}\n{tomli_w.dumps(raw)}")
        captured = capsys.readouterr()
        assert status in (0, 2), (case, captured.err)
        assert not out.exists(), f"case {case} created {out}"
        outcomes[status] += 1
        if status == 2:
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("neurosim: error: "), (case, captured.err)
            messages.add(re.sub(r"'[^']*'|\d+", "_", lines[0])[:60])
        else:
            errors = [e.message for e in validator.iter_errors(as_json(raw))]
            assert not errors, (
                f"case {case} was accepted but breaks the schema: {errors}\n{tomli_w.dumps(raw)}"
            )
    # The mutations reach both outcomes and many different checks.
    assert sum(outcomes.values()) >= 500, outcomes
    assert outcomes[0] >= 30 and outcomes[2] >= 300, outcomes
    assert len(messages) >= 25, sorted(messages)
