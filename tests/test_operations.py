"""Exact operation counts: hand-counted tiny networks, binary vs. real inputs, stored results."""

import pytest
import torch
from torch import nn

from neurosim.device import seeded
from neurosim.metrics import count_operations
from neurosim.models import MODELS
from neurosim.runner import measure_operations
from neurosim.tasks import TASKS


def test_binary_input_is_counted_as_accumulates_and_real_input_as_macs():
    layer = nn.Linear(4, 3)
    with count_operations(layer) as counts:
        layer(torch.tensor([[1.0, 0.0, 1.0, 1.0]]))  # spikes: 3 x 3 ACs
        layer(torch.tensor([[0.5, 0.0, 0.0, 2.0]]))  # real: 2 x 3 MACs
    row = counts.per_sample()[""]
    assert row["effective_acs"] == 9 / 2 and row["effective_macs"] == 6 / 2
    assert row["dense_macs"] == 12.0  # 2 calls x 4 x 3, per sample


def test_hand_counted_mlp():
    with seeded(0):
        model = MODELS.get("mlp")((4,), 3, hidden_sizes=[5])
    x = torch.tensor([[0.5, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    with torch.no_grad():
        hidden = torch.relu(model.layers[0](x))
    with count_operations(model) as counts:
        model(x)
    table = counts.per_sample()
    # layer 0: 2 non-zero inputs over 2 samples, 5 outputs each -> 5 MACs per sample; dense 4 x 5
    assert table["layers.0"]["effective_macs"] == 5.0 and table["layers.0"]["dense_macs"] == 20.0
    assert table["layers.0"]["activation_sparsity"] == 0.75
    assert table["layers.0"]["neuron_updates"] == 5.0
    # layer 1: its input is the ReLU output
    assert table["layers.1"]["effective_macs"] == int(torch.count_nonzero(hidden)) * 3 / 2
    assert table["layers.1"]["effective_acs"] == 0


def test_hand_counted_spiking_network():
    with seeded(0):
        model = MODELS.get("snn_mlp")((2,), 1, hidden_sizes=[2], n_steps=3, beta=0.5)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.eye(2))
        model.layers[0].bias.zero_()
        model.layers[1].weight.fill_(1.0)
        model.layers[1].bias.zero_()
    with count_operations(model) as counts:
        model(torch.tensor([[1.5, 0.0]]))
    table = counts.per_sample()
    # hidden neuron 0: U = 1.5, 0.75 + 1.5 - 1 = 1.25, 0.625 + 1.5 - 1 = 1.125: spikes at all 3 steps
    assert table["neurons.0"]["spikes"] == 3 and table["neurons.0"]["neuron_updates"] == 6
    assert table["neurons.0"]["activation_sparsity"] == 0.5
    # direct encoding: the first layer runs once; W = I, so the one non-zero input meets 1 synapse
    assert table["layers.0"]["dense_macs"] == 4 and table["layers.0"]["effective_macs"] == 1
    # second layer: 3 calls of 2 x 1 dense; the 3 spikes each reach 1 target
    assert table["layers.1"]["dense_macs"] == 6 and table["layers.1"]["effective_acs"] == 3
    assert table["layers.1"]["effective_macs"] == 0
    assert table["neurons.1"]["neuron_updates"] == 3


def test_stored_counts_separate_spiking_and_conventional_work():
    task = TASKS.get("digits")()
    with seeded(0):
        snn = MODELS.get("snn_mlp")(task.input_shape, task.n_classes, hidden_sizes=[32], n_steps=5)
        mlp = MODELS.get("mlp")(task.input_shape, task.n_classes, hidden_sizes=[32])
    snn_ops = {
        k: v.values for k, v in measure_operations(snn, task, torch.device("cpu"))["variables"].items()
    }
    mlp_ops = {
        k: v.values for k, v in measure_operations(mlp, task, torch.device("cpu"))["variables"].items()
    }
    assert float(mlp_ops["total_effective_acs"]) == 0 and float(mlp_ops["total_spikes"]) == 0
    assert float(mlp_ops["total_dense_macs"]) == 64 * 32 + 32 * 10
    assert float(snn_ops["total_dense_macs"]) == pytest.approx(64 * 32 + 5 * 32 * 10)
    assert float(snn_ops["total_effective_acs"]) == pytest.approx(float(snn_ops["ops_spikes"][1]) * 10)


def test_hand_counted_convolution():
    conv = nn.Conv2d(1, 2, kernel_size=2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[1.0, 1.0], [1.0, 1.0]]]]))
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 0.5  # one non-zero pixel, at the centre
    with count_operations(conv) as counts:
        conv(x)
    row = counts.per_sample()[""]
    # 2 channels x 2 x 2 outputs, each 1 x 2 x 2 products
    assert row["dense_macs"] == 2 * 4 * 4
    # channel 0 reads its one synapse at the window's top-left: only the window at (1, 1) uses the
    # centre pixel -> 1; channel 1 has 4 synapses, each of the 4 windows covers the centre -> 4
    assert row["effective_macs"] == 5 and row["effective_acs"] == 0
    with count_operations(conv) as counts:
        conv((x > 0).float())
    assert counts.per_sample()[""]["effective_acs"] == 5


def test_hand_counted_s_cells_and_lenet_partial_convolution():
    from neurosim.models.lenet import PartialConvolution
    from neurosim.models.neocognitron_cells import SCells

    layer = SCells(1, 3, radius=1, theta=0.5)
    layer.weight.data[0] = 1.0  # one generated plane (3x3, every synapse present); two unused
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 0.5  # one real-valued input at the centre
    with count_operations(layer) as counts:
        layer(x)
    row = counts.per_sample()[""]
    # excitation: 9 positions x 1 generated plane x 9 synapses dense, and the V-cell 9 x 9 more;
    # the one non-zero input reaches all 9 positions of the plane, and of the V-cell: 9 + 9 MACs.
    assert row["dense_macs"] == 162 and row["effective_macs"] == 18 and row["effective_acs"] == 0
    c3 = PartialConvolution(((0,), (0, 1)), in_maps=2, kernel_size=3)
    with count_operations(c3) as counts:
        c3(torch.ones(1, 2, 3, 3))  # binary input: accumulates; 3 connected kernels of 9 synapses
    row = counts.per_sample()[""]
    assert row["effective_acs"] == 27 and row["dense_macs"] == 2 * 2 * 9


class _Scale(nn.Module):
    """A layer with a parameter that no shipped counter knows (an elementwise gain)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


def test_a_layer_no_counter_knows_is_an_error_until_a_counter_is_registered(monkeypatch):
    from neurosim.metrics import layer_counters
    from neurosim.metrics.layer_counters import LayerCounter, UncountableLayer, register_counter

    model = nn.Sequential(nn.Linear(4, 4), _Scale())
    message = r"layer '1' \(_Scale\) has parameters but no operation counter"
    with pytest.raises(UncountableLayer, match=message):
        with count_operations(model):
            pytest.fail("the block must not run")
    assert not model._forward_hooks and not model[0]._forward_hooks  # nothing left hooked

    def gain_hook(session, name):
        def hook(module, inputs, output):
            session.counts_for(name, "elementwise").add("effective_macs", output.numel())

        return hook

    monkeypatch.setattr(layer_counters, "COUNTERS", list(layer_counters.COUNTERS))
    register_counter(LayerCounter("gain", lambda m: isinstance(m, _Scale), gain_hook))
    with pytest.raises(ValueError, match="already registered"):
        register_counter(LayerCounter("gain", lambda m: False, gain_hook))
    with count_operations(model) as counts:
        model(torch.full((2, 4), 2.0))  # real inputs: MACs (ones would be spikes, ACs)
    table = counts.per_sample()
    assert table["1"]["effective_macs"] == 4.0 and table["0"]["effective_macs"] == 16.0


@pytest.mark.parametrize("name", MODELS.list())
def test_every_shipped_model_is_countable(name):
    """No shipped model has a parameterised layer that the counters leave out."""
    model = MODELS.get(name)((1, 28, 28), 10).eval()
    with count_operations(model) as counts:
        model(torch.rand(2, 1, 28, 28))
    assert counts.samples == 2 and counts.layers
