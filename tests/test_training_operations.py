"""Training operation counts: the backward pass and rule updates by hand, the ledger of a trainer's
steps (optimiser work, untouched model, phases), their pricing, and the report's training section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.config import TrainingConfig
from neurosim.energy.pricing import price
from neurosim.energy.profiles import hardware_profile
from neurosim.metrics import count_operations
from neurosim.metrics.training import training_ledger
from neurosim.models.feedforward import mlp
from neurosim.models.perceptron import perceptron
from neurosim.rules.perceptron import perceptron_sequential
from neurosim.tasks.base import Task


def _tiny_mlp() -> nn.Sequential:
    """3 -> 2 (ReLU) -> 2 with hand-set weights: hidden unit 0 active, unit 1 silent on [1, 0, 2.5]."""
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, 1.0, -1.0]]))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        net[2].bias.zero_()
    return net


def test_backward_pass_of_a_tiny_mlp_by_hand():
    net = _tiny_mlp()
    with count_operations(net, training=True) as counts:
        logits = net(torch.tensor([[1.0, 0.0, 2.5]]))
        nn.functional.cross_entropy(logits, torch.tensor([1])).backward()
    first, second = counts.layers["0"], counts.layers["2"]
    # First layer: no input gradient (the pixels need none); the weight gradient of the one
    # flowing hidden unit (unit 1 is silent, so ReLU stops its gradient) meets the 2 non-zero inputs.
    assert first.backward_macs == 1 * 2
    # Second layer: the input gradient takes every synapse of both flowing outputs (2 x 2, the
    # silent unit's included); the weight gradient skips the silent input: 2 outputs x 1.
    assert second.backward_macs == 2 * 2 + 2 * 1
    assert first.backward_neuron_updates == 2 and second.backward_neuron_updates == 2
    # The input gradient reads a weight per MAC and writes 2 values; each layer's gradient buffer is
    # written once per call, and the stored activations are read again.
    assert second.weight_reads == 2 + 4 and second.output_writes == 2 + 2
    assert first.weight_writes == 6 and second.weight_writes == 4
    assert first.input_reads == 2 + 2 and second.input_reads == 1 + 1
    # Forward counts are those of inference.
    assert first.effective_macs == 4 and second.effective_macs == 2


def test_backward_pass_of_a_padded_convolution_counts_only_real_inputs():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.rand(1, 1, 3, 3) + 0.5  # every input non-zero
    x.requires_grad_(True)
    with count_operations(conv, training=True) as counts:
        out = conv(x)
        (out * (torch.rand_like(out) + 0.5)).sum().backward()  # every output gradient non-zero
    # Per output position, the in-bounds inputs of its 3x3 window: 4 corners x 4 + 4 edges x 6 + 9.
    in_bounds = 4 * 4 + 4 * 6 + 9
    assert counts.layers[""].backward_macs == in_bounds + in_bounds  # input and weight gradients
    assert counts.layers[""].effective_macs == in_bounds


def test_perceptron_updates_by_hand():
    weight, bias = torch.zeros(2, 3), torch.zeros(2)
    x = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    # Sample 1: all scores 0, predicted 0, target 1: a mistake changing 2 units x (2 inputs + bias).
    # Sample 2: scores [-1, 1] (the biases), predicted 1, target 0: 2 units x (1 input + bias).
    _, _, mistakes, updates = perceptron_sequential(weight, bias, x, torch.tensor([1, 0]))
    assert mistakes == 2 and updates == 2 * 3 + 2 * 2


def _task(n: int = 120, d: int = 16, classes: int = 3) -> Task:
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = (torch.rand(n, d, generator=generator) < 0.3).float() * torch.rand(n, d, generator=generator)
    x[torch.arange(n), y] += 1.0
    return Task("toy", x, y, x[:30], y[:30], classes, tuple("abc"), "toy")


def test_ledger_of_backprop_counts_the_optimiser_and_leaves_the_model_alone():
    task = _task()
    model = mlp((16,), 3, hidden_sizes=[8])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainingConfig(epochs=2, batch_size=20, optimizer="adam", lr=1e-2)
    ledgers, presented = training_ledger(model, task, config, seed=0, n_samples=40)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert set(ledgers) == {"supervised"} and presented == {"supervised": 2 * 120}
    supervised = ledgers["supervised"]
    assert supervised.samples == 40
    n_params = sum(p.numel() for p in model.parameters())
    updates = sum(row["weight_updates"] for row in supervised.per_layer.values())
    optimiser = sum(row["optimizer_macs"] for row in supervised.per_layer.values())
    # Adam moves every parameter once per step: 2 steps of 20 samples.
    assert updates == pytest.approx(2 * n_params / 40)
    assert optimiser == pytest.approx(8 * updates)
    assert sum(row["backward_macs"] for row in supervised.per_layer.values()) > 0
    again, _ = training_ledger(model, task, config, seed=0, n_samples=40)
    assert again["supervised"].per_layer == supervised.per_layer  # seeded: the same counts


def test_ledger_of_a_local_rule_counts_its_plasticity_and_evaluation():
    task = _task()
    model = perceptron((16,), 3)
    with torch.no_grad():
        model.readout.weight.fill_(0.1)  # a zero weight is an absent synapse, as at inference
    config = TrainingConfig(epochs=1, batch_size=120)
    ledgers, _ = training_ledger(model, task, config, seed=0, n_samples=120)
    row = ledgers["supervised"].per_layer["readout"]
    # The forward pass stops at the readout's input, so the rule's own evaluation of the readout is
    # what is charged: 3 units x the non-zero inputs of each sample.
    assert row["effective_macs"] == pytest.approx(3 * float(torch.count_nonzero(task.x_train)) / 120)
    assert row["backward_macs"] == 0 and row["plasticity_updates"] > 0
    # Each plasticity update and each applied change is a read-modify-write of a weight.
    assert row["weight_writes"] == pytest.approx(row["plasticity_updates"] + row["weight_updates"])


def test_a_training_row_is_priced_with_backward_plasticity_optimiser_and_weight_writes():
    profile = hardware_profile("horowitz45_fp32_memory")
    row = dict.fromkeys(
        ("effective_macs", "backward_macs", "plasticity_updates", "optimizer_macs", "weight_writes"), 0.0
    )
    row.update(effective_macs=10, backward_macs=20, plasticity_updates=5, optimizer_macs=3, weight_writes=7)
    row.update(weight_elements=1000, input_elements=10, state_elements=10)
    estimate = price({"layer": row}, {"layer": "dense"}, profile)
    assert estimate.by_term["mac"] == pytest.approx(38 * 4.6)
    assert estimate.by_term["weight_write"] == pytest.approx(7 * profile.access_energy(1000))


def test_the_energy_analysis_stores_training_and_reports_energy_to_train(stored_perceptron_run):
    from neurosim.analysis.energy import analyse_energy
    from neurosim.report.build import build_report

    result = analyse_energy(stored_perceptron_run, n_stimuli=100, measure=False)
    assert result.training_energy.dims == ("model", "seed", "stage", "phase", "profile", "term")
    samples = result.training_samples.sel(phase="supervised")
    assert (samples > 0).all() and (result.training_samples.sel(phase="unsupervised") == 0).all()
    linear = result.training_events.sel(model="linear", phase="supervised", term="mac")
    assert (linear > result.events.sel(model="linear", term="mac")).all()  # backward + Adam on top
    # The perceptron learns from mistakes: fewer weight writes at the end of the fit than at its start.
    writes = result.training_events.sel(model="perceptron", phase="supervised", term="weight_write")
    assert (writes.sel(stage="end") < writes.sel(stage="start")).all()
    report = Path(build_report(stored_perceptron_run)).with_suffix(".md")
    text = report.read_text()
    assert "Energy to train (estimates, mJ per fit)" in text and "Training: perceptron vs. linear" in text
    assert (report.parent / "figures" / "training_energy_perceptron_linear.png").stat().st_size > 1000
    assert np.isfinite(result.training_energy.sel(profile="horowitz45_fp32_compute", term="mac")).all()


def test_ledger_of_diehl_and_cook_counts_the_learning_simulation_and_stdp():
    from neurosim.models.diehl_cook import DiehlCookNetwork

    task = _task(n=20)
    n = 4
    # 16 inputs carry 16/784 of the paper's input weight: doubled, so that the neurons fire (with
    # the paper's sum they reach threshold in fewer than 1 of 5 images).
    model = DiehlCookNetwork(
        (16,), 3, n_neurons=n, mode="batched", batch_size=10, constants={"weight_sum_784": 156.0}
    )
    config = TrainingConfig(epochs=1, batch_size=10, unsupervised_batch_size=10)
    ledgers, presented = training_ledger(model, task, config, seed=0, n_samples=10)
    assert presented["unsupervised"] == 20 and set(ledgers) == {"unsupervised", "features", "supervised"}
    row = ledgers["unsupervised"].per_layer["excitatory"]
    # Every presentation simulates 1000 steps of N excitatory and N inhibitory neurons (more when
    # an image is shown again), and STDP changes synapses at every input and excitatory spike.
    assert row["neuron_updates"] >= 1000 * 2 * n and row["spikes"] > 0
    # Applied once per batch: the batch's summed change moves each of the 16 x N weights.
    assert row["plasticity_updates"] > 0 and row["weight_updates"] == 16 * n / 10
