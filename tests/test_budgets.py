"""The budget table: what each member of a pair was given, counted by hand, and which budgets
are matched."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from neurosim.report.budgets import HEADER, LEARNING, Learning, budget_table
from tests.conftest import tiny_comparison


def test_the_learning_table_is_every_registered_models_plan():
    from neurosim.models import MODELS

    for name in MODELS.list():
        model = MODELS.get(name)((1, 28, 28), 10)
        plan = model.learning_plan()
        declared = LEARNING.get(name, Learning())
        assert declared.unsupervised_layers == sum(s.phase == "unsupervised" for s in plan), name
        assert declared.supervised_passes == model.supervised_passes, name


def _results(members: list[dict], epochs: int, n_labelled: int, batch: int, n_per_class=None) -> xr.Dataset:
    """A results.nc as far as the table reads it: the config and the checkpoint grid's last point."""
    config = {"task": {"n_per_class": n_per_class}, "members": members}
    steps = epochs * math.ceil(n_labelled / batch)
    coords = {"samples_seen": ("checkpoint", [epochs * n_labelled]), "epoch": ("checkpoint", [float(epochs)])}
    return xr.Dataset(coords=coords | {"step": ("checkpoint", [steps])}, attrs={"config": json.dumps(config)})


def _member(name: str, model: str, **training) -> dict:
    return {"name": name, "model": model, "options": {}, "training": {"batch_size": 32, **training}}


def test_hand_counted_budgets_of_the_neocognitron_pair():
    """N = 100 labelled images, the pool; 5 epochs of batches of 32 (4 steps per epoch, the last of
    4 images). The Neocognitron learns US4 in 1 pass: 100 samples, 4 steps; LeNet-5 in 5: 500, 20.
    US2 and US3 each see 250 images in steps of 32: 2 passes of 4 steps and ceil(50 / 32) = 2 more,
    10 steps, 2 x 100 + min(2 x 32, 100) = 264 images."""
    members = [
        _member("neocognitron", "neocognitron", unsupervised_samples=250),
        _member("lenet5", "lenet5"),
        _member("neocognitron_knn", "neocognitron_knn", unsupervised_samples=250),
    ]
    header, rows = budget_table(_results(members, 5, 100, 32), "neocognitron", ["lenet5", "neocognitron_knn"])
    assert header == HEADER
    assert rows[0] == ["neocognitron", "100", "1", "4", "32", "2", "264", "10", "32"]
    assert rows[1] == ["lenet5", "500", "5", "20", "32", "0", "0", "0", "-"]
    assert rows[2][1:] == rows[0][1:]
    assert rows[3][0] == "matched"
    note = rows[3][1]
    assert note.startswith("matched: batch (32); not matched: labelled samples (")
    assert "supervised passes (neocognitron, neocognitron_knn 1; lenet5 5)" in note
    assert len(rows[3]) == len(header)


def test_the_unlabelled_budget_in_epochs_and_a_batch_of_its_own():
    """unsupervised_epochs = 3 over N = 50 in steps of 20: 3 x ceil(50 / 20) = 9 steps, 150 images."""
    members = [
        _member("softhebb_mlp", "softhebb_mlp", unsupervised_epochs=3, unsupervised_batch_size=20),
        _member("softhebb_mlp_kmeans", "softhebb_mlp_kmeans", unsupervised_samples=150),
    ]
    _, rows = budget_table(_results(members, 2, 50, 32), "softhebb_mlp", ["softhebb_mlp_kmeans"])
    assert rows[0][5:] == ["1", "150", "9", "20"]
    assert rows[1][5:] == ["1", "150", "6", "32"]  # 150 = 3 passes of ceil(50 / 32) = 2 steps
    assert "not matched: unsupervised steps / layer (softhebb_mlp 9; softhebb_mlp_kmeans 6)" in rows[2][1]


def test_a_pool_larger_than_the_labelled_set_needs_its_size():
    members = [
        _member("hebbian_krotov", "hebbian_krotov", unsupervised_samples=1000),
        _member("k", "krotov_backprop"),
    ]
    results = _results(members, 2, 50, 32, n_per_class=5)
    _, rows = budget_table(results, "hebbian_krotov", ["k"])
    assert rows[0][6:8] == ["1000 (pool size not stored)", "?"]
    _, rows = budget_table(results, "hebbian_krotov", ["k"], pool_size=1442)
    assert rows[0][6:8] == ["1024", "32"]  # ceil(1000 / 32) = 32 steps of 32 images


@pytest.mark.slow
def test_the_table_of_a_tiny_run(tmp_path):
    """A real run: 5 labelled digits per class (N = 50), 2 epochs of 16 (4 steps each, 8 in all);
    SoftHebb's layer and its k-means control see 100 images of the 1442-image pool in steps of 16:
    7 steps, 112 images; the backprop twin none."""
    from neurosim import config
    from neurosim.runner import run_comparison

    text = tiny_comparison(
        pairs=["softhebb_mlp_backprop"],
        task={"n_per_class": 5},
        models={
            "softhebb_mlp": {"n_hidden": 8, "training": {"unsupervised_samples": 100}},
            "softhebb_mlp_kmeans": {"training": {"unsupervised_samples": 100}},
        },
    )
    run = run_comparison(config.resolve(config.tomllib.loads(text)), root=tmp_path)
    results = xr.open_dataset(run / "results.nc")
    twins = ["softhebb_mlp_backprop", "softhebb_mlp_kmeans"]
    _, rows = budget_table(results, "softhebb_mlp", twins, pool_size=1442)
    assert rows[0] == ["softhebb_mlp", "100", "2", "8", "16", "1", "112", "7", "16"]
    assert rows[1] == ["softhebb_mlp_backprop", "100", "2", "8", "16", "0", "0", "0", "-"]
    assert rows[2] == ["softhebb_mlp_kmeans", *rows[0][1:]]
    assert int(np.asarray(results.step.values)[-1]) == 8
