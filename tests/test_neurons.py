"""LIF golden trajectories, surrogate derivatives, encoders, and equivalence with snnTorch."""

import copy
import math

import pytest
import snntorch
import torch
from snntorch import surrogate as snn_surrogate

from neurosim.device import seeded
from neurosim.encoders import make_encoder
from neurosim.errors import UserError
from neurosim.models import MODELS
from neurosim.neurons import LIF, LIFParams, surrogate


def run(params, currents):
    return LIF(params).run(torch.tensor(currents).reshape(-1, 1))


def test_golden_trajectory_subtractive_reset():
    spikes, mems = run(LIFParams(beta=0.5, threshold=1.0), [0.6] * 5)
    # U: 0.6, 0.9, 1.05 (spike), 0.525 + 0.6 - 1 = 0.125, 0.0625 + 0.6 = 0.6625
    assert mems.flatten().tolist() == pytest.approx([0.6, 0.9, 1.05, 0.125, 0.6625])
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 0]


def test_golden_trajectory_zero_reset():
    spikes, mems = run(LIFParams(beta=0.5, threshold=1.0, reset="zero"), [0.6] * 5)
    assert mems.flatten().tolist() == pytest.approx([0.6, 0.9, 1.05, 0.6, 0.9])
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 0]


def test_golden_trajectory_refractory_period():
    spikes, mems = run(LIFParams(beta=0.5, threshold=1.0, refractory_steps=1), [0.6] * 5)
    # step 3 is refractory: the reset applies, the input is ignored: 0.525 - 1 = -0.475
    assert mems.flatten().tolist() == pytest.approx([0.6, 0.9, 1.05, -0.475, 0.3625])
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 0]


def test_time_constant_sets_beta():
    assert LIFParams.from_time_constant(tau_mem_ms=10.0, dt_ms=1.0).beta == pytest.approx(math.exp(-0.1))
    with pytest.raises(UserError, match="valid choices: subtract, zero"):
        LIFParams(reset="hold")
    with pytest.raises(UserError, match="unknown surrogate 'relu'"):
        LIFParams(surrogate="relu")


@pytest.mark.parametrize(
    ("name", "x", "expected"),
    [
        ("atan", 0.0, 1.0),
        ("atan", 0.5, 1 / (1 + (math.pi / 2) ** 2)),
        ("fast_sigmoid", 0.0, 1.0),
        ("fast_sigmoid", 0.1, 1 / 3.5**2),
    ],
)
def test_surrogate_golden_derivatives(name, x, expected):
    value = torch.tensor(x, requires_grad=True)
    spike = surrogate(name)(value)
    spike.backward()
    assert float(spike.detach()) == (1.0 if x > 0 else 0.0)
    assert float(value.grad) == pytest.approx(expected)


SNNTORCH_SURROGATES = {"atan": snn_surrogate.atan, "fast_sigmoid": snn_surrogate.fast_sigmoid}


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("name", ["atan", "fast_sigmoid"])
def test_lif_equals_snntorch_leaky_forward_and_gradients(reset, name):
    torch.manual_seed(0)
    currents = torch.rand(40, 8, 16) * 0.7
    ours_in = currents.clone().requires_grad_(True)
    theirs_in = currents.clone().requires_grad_(True)
    spikes, mems = LIF(LIFParams(beta=0.9, threshold=1.0, reset=reset, surrogate=name)).run(ours_in)
    leaky = snntorch.Leaky(
        beta=0.9, threshold=1.0, reset_mechanism=reset, spike_grad=SNNTORCH_SURROGATES[name]()
    )
    mem, their_spikes, their_mems = leaky.reset_mem(), [], []
    for current in theirs_in:
        spike, mem = leaky(current, mem)
        their_spikes.append(spike)
        their_mems.append(mem)
    their_spikes, their_mems = torch.stack(their_spikes), torch.stack(their_mems)
    assert spikes.sum() > 0
    assert torch.equal(spikes, their_spikes)
    assert torch.allclose(mems, their_mems, atol=1e-6)
    weights = torch.randn_like(currents)
    ((spikes * weights).sum() + (mems * weights).sum()).backward()
    ((their_spikes * weights).sum() + (their_mems * weights).sum()).backward()
    assert torch.allclose(ours_in.grad, theirs_in.grad, atol=1e-5)


def test_snn_mlp_equals_the_same_network_built_from_snntorch():
    with seeded(0):
        model = MODELS.get("snn_mlp")((1, 8, 8), 10, hidden_sizes=[32], n_steps=12, beta=0.8)
    fc1, fc2 = copy.deepcopy(model.layers[0]), copy.deepcopy(model.layers[1])
    lif1 = snntorch.Leaky(beta=0.8, spike_grad=snn_surrogate.atan())
    lif2 = snntorch.Leaky(beta=0.8, spike_grad=snn_surrogate.atan())
    x = torch.rand(6, 1, 8, 8) * 2
    mem1, mem2, records = lif1.reset_mem(), lif2.reset_mem(), []
    for _ in range(12):
        spike1, mem1 = lif1(fc1(x.flatten(1)), mem1)
        _, mem2 = lif2(fc2(spike1), mem2)
        records.append(mem2)
    theirs = torch.stack(records).mean(0)
    ours = model(x)
    assert torch.allclose(ours, theirs, atol=1e-6)
    target = torch.randint(0, 10, (6,))
    torch.nn.functional.cross_entropy(ours, target).backward()
    torch.nn.functional.cross_entropy(theirs, target).backward()
    assert torch.allclose(model.layers[0].weight.grad, fc1.weight.grad, atol=1e-6)
    assert torch.allclose(model.layers[1].weight.grad, fc2.weight.grad, atol=1e-6)


def test_snn_mlp_per_step_readout_is_snntorch_tutorial_5_loss_and_prediction():
    """Tutorial 5: loss = sum_t CE(mem2_t, y) (each a batch mean), prediction = argmax of spike counts."""
    with seeded(0):
        model = MODELS.get("snn_mlp")(
            (1, 8, 8), 10, hidden_sizes=[32], n_steps=7, readout="membrane_per_step"
        )
    with torch.no_grad():
        model.layers[1].weight.mul_(8)  # so that output neurons spike and predictions differ
    fc1, fc2 = copy.deepcopy(model.layers[0]), copy.deepcopy(model.layers[1])
    lif1 = snntorch.Leaky(beta=0.95, spike_grad=snn_surrogate.atan())
    lif2 = snntorch.Leaky(beta=0.95, spike_grad=snn_surrogate.atan())
    x, target = torch.rand(6, 1, 8, 8) * 2, torch.randint(0, 10, (6,))
    mem1, mem2, loss, counts = lif1.reset_mem(), lif2.reset_mem(), 0.0, 0.0
    for _ in range(7):
        spike1, mem1 = lif1(fc1(x.flatten(1)), mem1)
        spike2, mem2 = lif2(fc2(spike1), mem2)
        loss = loss + torch.nn.functional.cross_entropy(mem2, target)
        counts = counts + spike2
    model.train()
    ours = model.loss(model(x), target)
    assert ours.item() == pytest.approx(loss.item(), rel=1e-6)
    ours.backward()
    loss.backward()
    assert torch.allclose(model.layers[0].weight.grad, fc1.weight.grad, atol=1e-6)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), counts.detach())
    assert counts.sum() > 0


def test_encoders():
    x = torch.tensor([[0.0, 0.5, 1.0]])
    direct = make_encoder("direct", 4)(x)
    assert direct.shape == (4, 1, 3) and torch.equal(direct[2], x)
    latency = make_encoder("latency", 5)(x)
    assert latency[:, 0].T.tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [1, 0, 0, 0, 0]]
    rate = make_encoder("rate", 4000, seed=3)(x.expand(10, 3))
    assert rate.mean(dim=(0, 1)).tolist() == pytest.approx([0.0, 0.5, 1.0], abs=0.01)
    with pytest.raises(UserError, match="unknown encoder 'poisson'; valid choices: direct, latency, rate"):
        make_encoder("poisson", 4)


def test_rate_encoder_stream_is_seeded_and_resumes_from_the_state_dict():
    first = make_encoder("rate", 10, seed=7)
    first(torch.rand(4, 3))
    saved = copy.deepcopy(first.state_dict())
    expected = first(torch.full((4, 3), 0.5))
    resumed = make_encoder("rate", 10, seed=999)
    resumed.load_state_dict(saved)
    assert torch.equal(resumed(torch.full((4, 3), 0.5)), expected)
    assert torch.equal(
        make_encoder("rate", 10, seed=7)(x := torch.rand(2, 2)), make_encoder("rate", 10, seed=7)(x)
    )


@pytest.mark.parametrize("encoder", ["direct", "rate", "latency"])
@pytest.mark.parametrize("readout", ["membrane_mean", "spike_count", "membrane_per_step"])
def test_snn_mlp_encoders_and_readouts_train(encoder, readout):
    with seeded(0):
        model = MODELS.get("snn_mlp")(
            (1, 8, 8), 10, hidden_sizes=[16], n_steps=5, encoder=encoder, readout=readout
        )
    logits = model(torch.rand(3, 1, 8, 8))  # training mode: the per-step readout keeps the steps
    assert logits.shape == ((3, 10, 5) if readout == "membrane_per_step" else (3, 10))
    logits.sum().backward()
    assert model.layers[0].weight.grad is not None and model.layers[0].weight.grad.abs().sum() > 0


def test_snn_cnn_equals_the_snntorch_tutorial_6_network():
    with seeded(0):
        model = MODELS.get("snn_cnn")((1, 28, 28), 10, n_steps=6)
    with torch.no_grad():
        model.stack.fc.weight.mul_(30)  # so that the output layer spikes and gradients flow
    conv1, conv2, fc = (copy.deepcopy(m) for m in (model.stack.conv1, model.stack.conv2, model.stack.fc))
    lifs = [snntorch.Leaky(beta=0.5, spike_grad=snn_surrogate.fast_sigmoid(slope=25)) for _ in range(3)]
    x = torch.rand(4, 1, 28, 28) * 3
    mems = [lif.reset_mem() for lif in lifs]
    count = 0
    for _ in range(6):
        spikes, mems[0] = lifs[0](torch.nn.functional.max_pool2d(conv1(x), 2), mems[0])
        spikes, mems[1] = lifs[1](torch.nn.functional.max_pool2d(conv2(spikes), 2), mems[1])
        spikes, mems[2] = lifs[2](fc(spikes.flatten(1)), mems[2])
        count = count + spikes
    ours = model(x)
    assert torch.equal(ours, count)
    assert float(count.detach().sum()) > 0, "the test input must make the output layer spike"
    target = torch.randint(0, 10, (4,))
    torch.nn.functional.cross_entropy(ours, target).backward()
    torch.nn.functional.cross_entropy(count, target).backward()
    assert torch.allclose(model.stack.conv1.weight.grad, conv1.weight.grad, atol=1e-5)
    assert torch.allclose(model.stack.fc.weight.grad, fc.weight.grad, atol=1e-5)
