"""Convergence diagnostics: hand counts of each measure, and the flag on a deliberately
under-trained fit, from the trainer through results.nc to the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from neurosim.config import TrainingConfig
from neurosim.models import MODELS
from neurosim.models.convergence import (
    MIN_CONVERGED,
    NORM_FACTOR,
    combined,
    generation_convergence,
    norm_convergence,
    responding_convergence,
    unit_norms,
    winning_fraction,
)
from neurosim.results import open_dataset
from neurosim.tasks import TASKS
from neurosim.training import Trainer, TrainingCallback

from .conftest import run_cli, tiny_comparison

CPU = torch.device("cpu")


def test_unit_norms_are_per_unit_p_norms():
    weight = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    assert unit_norms(weight, 2.0).tolist() == pytest.approx([5.0, 2**0.5])
    assert unit_norms(weight, 3.0).tolist() == pytest.approx([(27 + 64) ** (1 / 3), 2 ** (1 / 3)])
    kernels = torch.ones(2, 3, 2, 2)  # flattened per output unit: 12 ones
    assert unit_norms(kernels, 2.0).tolist() == pytest.approx([12**0.5] * 2)


def test_a_layer_learnt_when_half_its_units_reach_the_sphere():
    # Norms 1, 1.2 (within x1.5 of 1), 3 and 0.5 (outside): half converged.
    weight = torch.diag(torch.tensor([1.0, 1.2, 3.0, 0.5]))
    diagnostic = norm_convergence(weight, 2.0)
    assert diagnostic.measures["converged_fraction"] == 0.5 == MIN_CONVERGED
    assert diagnostic.learnt and "did not learn" not in diagnostic.summary
    assert NORM_FACTOR == 1.5
    stuck = norm_convergence(torch.diag(torch.tensor([1.0, 1.6, 3.0, 0.6])), 2.0)
    assert stuck.measures["converged_fraction"] == 0.25 and not stuck.learnt
    assert "did not learn" in stuck.summary


def test_winning_units_are_the_argmax_of_some_input():
    currents = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    assert winning_fraction(currents) == pytest.approx(2 / 3)
    diagnostic = norm_convergence(torch.eye(3), 2.0, currents)
    assert diagnostic.measures["winning_fraction"] == pytest.approx(2 / 3)
    assert "67% win one of 3 training images" in diagnostic.summary


def test_responding_units_and_generated_planes():
    assert responding_convergence(torch.tensor([0, -1, 3, -1])).learnt  # 2 of 4 respond
    silent = responding_convergence(torch.tensor([-1, -1, 2]))
    assert silent.measures["responding_fraction"] == pytest.approx(1 / 3) and not silent.learnt
    generated = generation_convergence({"us2": 1, "us3": 5}, {"us2": 2, "us3": 2})
    assert not generated.learnt and "us2 needs 2" in generated.summary
    assert generation_convergence({"us2": 2}, {"us2": 2}).learnt
    both = combined({"a": generated, "b": silent})
    assert not both.learnt and both.measures["a.us3_generated"] == 5.0


def krotov_fit(samples: int):
    """The quickstart's Krotov-Hopfield member on digits with ``samples`` unlabelled presentations."""
    task = TASKS.get("digits")()
    torch.manual_seed(0)
    model = MODELS.get("hebbian_krotov")(task.input_shape, task.n_classes, n_hidden=100, k=2)
    config = TrainingConfig(epochs=2, batch_size=32, lr=0.003, unsupervised_samples=samples)
    return Trainer(model, task, config, 0, CPU).fit()


def test_the_flag_fires_on_an_under_trained_fit_and_not_on_a_trained_one():
    """One pass over digits leaves Krotov's units near their N(0, 1) start (3-norm ~4.7 in 64
    dimensions); 100 passes bring most of them to the unit sphere."""
    under = krotov_fit(1442).convergence
    assert not under.learnt and under.measures["median_norm"] > 3.0, under.summary
    trained = krotov_fit(144_200).convergence
    assert trained.learnt and trained.measures["median_norm"] == pytest.approx(1.0, abs=0.05), trained.summary


def test_models_without_a_local_rule_have_nothing_to_check():
    task = TASKS.get("digits")()
    model = MODELS.get("mlp")(task.input_shape, task.n_classes)
    result = Trainer(model, task, TrainingConfig(epochs=1), 0, CPU, n_per_class=10).fit()
    assert result.convergence is None


UNDER_TRAINED = tiny_comparison(
    name="under_trained",
    description=None,
    pairs=["hebbian_krotov_backprop"],
    training={"batch_size": 32, "lr": 0.003},
    models={
        "hebbian_krotov": {"n_hidden": 100, "k": 2, "training": {"unsupervised_samples": 1442}},
        "krotov_backprop": {"n_hidden": 100},
    },
)


@pytest.mark.slow
def test_a_fit_that_did_not_learn_is_logged_stored_and_reported(tmp_path):
    comparison = tmp_path / "under_trained.toml"
    comparison.write_text(UNDER_TRAINED)
    process = run_cli("run", str(comparison), "--out", str(tmp_path / "runs"), "--quiet")
    assert "hebbian_krotov seed 0 DID NOT LEARN: median 3-norm" in process.stderr, process.stderr
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    results = open_dataset(report.parents[1] / "results.nc")
    assert results.learnt.sel(model="hebbian_krotov").values.tolist() == [0]
    assert results.learnt.sel(model="krotov_backprop").values.tolist() == [-1], "backprop: not checked"
    assert "did not learn" in str(results.convergence.sel(model="hebbian_krotov", seed=0).item())
    markdown = (report.parent / "report.md").read_text()
    assert "WARNING: hebbian_krotov did not learn in seed 0 of 1 (seed 0: median 3-norm" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| hebbian_krotov |"))
    assert "DID NOT LEARN in seeds 0" in row


def softhebb_trainer(config: TrainingConfig, task=None):
    task = task or TASKS.get("digits")()
    torch.manual_seed(0)
    model = MODELS.get("softhebb_mlp")(task.input_shape, task.n_classes, n_hidden=20)
    return Trainer(model, task, config, 0, CPU)


def test_a_budget_in_samples_equals_whole_epochs_and_transfers_across_pool_sizes():
    """k passes stated as k x N samples learn exactly what k epochs learn; on a pool half as
    large the same samples take the same number of steps (twice the passes)."""
    n = 1442
    by_epochs = softhebb_trainer(TrainingConfig(epochs=1, batch_size=32, unsupervised_epochs=3))
    by_samples = softhebb_trainer(TrainingConfig(epochs=1, batch_size=32, unsupervised_samples=3 * n))
    assert by_epochs.unsupervised_total() == by_samples.unsupervised_total() == 3 * 46  # ceil(1442 / 32)
    by_epochs.unsupervised.run(by_epochs.unsupervised_schedule(), 0, 0.0, TrainingCallback())
    by_samples.unsupervised.run(by_samples.unsupervised_schedule(), 0, 0.0, TrainingCallback())
    assert torch.equal(by_epochs.model.hidden.weight, by_samples.model.hidden.weight)
    assert by_samples.presented_samples()["unsupervised"] == 3 * n

    task = TASKS.get("digits")()
    half = dataclasses.replace(task, x_train=task.x_train[: n // 2], y_train=task.y_train[: n // 2])
    config = TrainingConfig(epochs=1, batch_size=32, unsupervised_samples=3 * n)
    assert softhebb_trainer(config, half).unsupervised_total() == 6 * 23, "six passes of 721"
    fewer = TrainingConfig(epochs=1, batch_size=32, unsupervised_epochs=3)
    assert softhebb_trainer(fewer, half).unsupervised_total() == 3 * 23, "epochs: half the updates"


def test_the_annealing_runs_over_a_budget_in_samples():
    """Krotov's rate anneals per pass; with 2.5 passes, passes begin at progress 0, 0.4, 0.8."""
    task = TASKS.get("digits")()
    seen: list[float] = []
    model = MODELS.get("hebbian_krotov")(task.input_shape, task.n_classes, n_hidden=10, k=2)
    trainer = Trainer(model, task, TrainingConfig(batch_size=721, unsupervised_samples=5 * 721), 0, CPU)
    rule = trainer.unsupervised.steps[0][1]
    write = rule.write_grads
    rule.write_grads = lambda *args, progress: seen.append(progress) or write(*args, progress=progress)
    trainer.unsupervised.run(trainer.unsupervised_schedule(), 0, 0.0, TrainingCallback())
    assert seen == pytest.approx([0.0, 0.0, 0.4, 0.4, 0.8])
