"""Diehl & Cook's functional core against values worked out by hand: the STDP trace step, the
paper's weight change for one pre-post pair, one step of the neuron population, and the
operations the layer reports for a tiny spike train (every number a literal, derived in a
comment)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neurosim.metrics import count_operations
from neurosim.models.diehl_cook_layer import DiehlCookLayer, RunStats, preset
from neurosim.neurons.conductance_lif import ConductanceLIFParams, ConductanceState, euler_constants, stacked
from neurosim.neurons.conductance_population import PopulationParams, PopulationState, population_step
from neurosim.rules.stdp import depressed, potentiated
from neurosim.rules.stdp_traces import TraceParams, Traces, trace_step

F64 = torch.float64
#: dt = 0.5 ms; tau_pre = tau_post1 = 20 ms, tau_post2 = 40 ms (the paper's).
TRACES = TraceParams.from_time_constants(0.5, 20.0, 20.0, 40.0)


def _tensor(*values: float) -> torch.Tensor:
    return torch.tensor([values], dtype=F64)


def test_trace_step_decays_and_a_spike_sets_the_trace_to_one():
    # Per-step factors exp(-0.5 / 20) = 0.9753099120283326 and exp(-0.5 / 40) = 0.9875778004938814.
    assert TRACES.decay_pre == pytest.approx(0.9753099120283326, rel=1e-15)
    assert TRACES.decay_post2 == pytest.approx(0.9875778004938814, rel=1e-15)
    traces = Traces(_tensor(0.5, 0.5), _tensor(0.5), _tensor(1.0))
    seen, new = trace_step(_tensor(1.0, 0.0), _tensor(1.0), traces, TRACES)
    # Both at 0.5 decay to 0.5 x 0.97531 = 0.48765; input 0 spikes: x_pre := 1 (not 0.48765 + 1).
    assert new.pre[0].tolist() == pytest.approx([1.0, 0.48765495601416630], rel=1e-14)
    assert torch.equal(seen.pre, new.pre)  # the updates read x_pre after this step's input spikes
    # The neuron spikes: the updates read the traces decayed but not yet set (0.5 x 0.97531 and
    # 1 x 0.98758); after the step both are 1 (a spike at 0.98758 does not make 1.98758).
    assert seen.post1.item() == pytest.approx(0.4876549560141663, rel=1e-14)
    assert seen.post2.item() == pytest.approx(0.9875778004938814, rel=1e-14)
    assert new.post1.item() == 1.0 and new.post2.item() == 1.0
    # No input (rest): x_pre only decays. 10 steps (5 ms) from 1: exp(-0.25) = 0.7788007830714049.
    traces = Traces(_tensor(1.0, 1.0), _tensor(1.0), _tensor(1.0))
    for _ in range(10):
        _, traces = trace_step(None, _tensor(0.0), traces, TRACES)
    assert traces.pre[0].tolist() == pytest.approx([0.7788007830714049] * 2, rel=1e-13)
    # x_post2 over 10 steps: exp(-5 / 40) = 0.8824969025845955.
    assert traces.post2.item() == pytest.approx(0.8824969025845955, rel=1e-13)


def test_the_weight_change_of_one_pre_post_pair_under_the_papers_rule():
    """The neuron fires at t = 0, the input at t = 5 ms, the neuron again at t = 10 ms.

    At 5 ms the input's spike depresses: dw = -nu_pre x_post1 = -1e-4 exp(-5 / 20)
    = -1e-4 x 0.7788007830714049 = -7.788007830714049e-05. At 10 ms the neuron's spike potentiates:
    dw = nu_post x_pre x_post2 (before the spike) = 1e-2 exp(-5 / 20) exp(-10 / 40)
    = 1e-2 x 0.6065306597126334 = 6.065306597126334e-03. Net: 5.987426518819193e-03. Without the
    first postsynaptic spike x_post2 is 0 and the pair alone changes nothing (the rule's triplet
    term)."""
    weight = torch.full((1, 1), 0.5, dtype=F64)  # [D = 1, N = 1]
    traces = Traces(_tensor(0.0), _tensor(0.0), _tensor(0.0))
    spikes = {0: "post", 10: "pre", 20: "post"}  # steps of 0.5 ms
    for step in range(21):
        pre = _tensor(1.0) if spikes.get(step) == "pre" else None
        post = _tensor(1.0 if spikes.get(step) == "post" else 0.0)
        seen, traces = trace_step(pre, post, traces, TRACES)
        if pre is not None:  # the row of the input that fired
            weight = depressed(weight, seen.post1, 1e-4, 1.0)
        if post.item():  # the column of the neuron that fired
            weight = potentiated(weight.T, seen.pre, seen.post2[:, 0], 1e-2, 1.0).T
    assert (weight - 0.5).item() == pytest.approx(5.987426518819193e-03, rel=1e-12)
    # The first spike alone: x_post2 = 0 before it.
    first = potentiated(torch.full((1, 1), 0.5, dtype=F64), _tensor(1.0), _tensor(0.0)[0], 1e-2, 1.0)
    assert first.item() == 0.5


def _population(n: int) -> PopulationParams:
    """The paper's neurons in float64, Euler, thresholds adaptive (learning)."""
    paper = preset("paper")
    neurons = stacked([(paper.excitatory_firing, n), (paper.inhibitory, n)])
    neurons = ConductanceLIFParams(
        **{field.name: getattr(neurons, field.name).double() for field in dataclasses.fields(neurons)}
    )
    theta_plus = torch.tensor([0.05] * n + [0.0] * n, dtype=F64)
    return PopulationParams(
        neurons, euler_constants(neurons, 0.5, "euler"), 10.4, 17.0, 1 - 0.5 / 1e7, theta_plus, True
    )


def test_population_step_golden():
    """Two excitatory neurons (0, 1) and their inhibitory partners (2, 3), dt = 0.5 ms, Euler.
    Excitatory: E_rest -65, threshold -72 + theta, tau_m 100 ms; inhibitory: E_rest -60,
    threshold -40, reset -45, tau_m 10 ms, E_inh -85; g_e decays by 1 - 0.5 / 1 = 0.5 per step and
    g_i by 1 - 0.5 / 2 = 0.75."""
    params = _population(2)
    neurons = ConductanceState(
        _tensor(-51.0, -60.0, -60.0, -60.0),
        _tensor(0.0, 0.5, 0.0, 0.0),
        _tensor(0.0, 0.2, 0.0, 0.0),
        _tensor(0, 0, 0, 0),
    )
    state = PopulationState(neurons, _tensor(20.0, 20.0, 0.0, 0.0))
    before = [tensor.clone() for tensor in (*neurons, state.theta)]
    spikes, state = population_step(_tensor(0.3, 0.0), state, params)
    assert all(
        torch.equal(a, b) for a, b in zip(before, (*neurons, _tensor(20.0, 20.0, 0.0, 0.0)), strict=True)
    )
    # Step 1. theta: 20 (1 - 0.5 / 1e7) = 19.999999. Neuron 0: dv = 0.005 (-65 + 51) = -0.07,
    # v = -51.07 > -72 + 19.999999: it fires, is reset to -65, refractory for 5 / 0.5 = 10 steps,
    # theta + 0.05. Neuron 1: dv = 0.005 ((-65 + 60) + 0.5 (0 + 60) + 0.2 (-100 + 60)) = 0.085,
    # v = -59.915. Inhibitory neurons at rest stay at -60.
    assert spikes.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert state.neurons.v[0].tolist() == pytest.approx([-65.0, -59.915, -60.0, -60.0], abs=1e-12)
    assert state.neurons.refractory_left.tolist() == [[10.0, 0.0, 0.0, 0.0]]
    assert state.theta[0].tolist() == pytest.approx([20.049999, 19.999999, 0.0, 0.0], abs=1e-12)
    # g_e: 0 x 0.5 + drive 0.3; 0.5 x 0.5; neuron 0's spike onto its partner 2: + 10.4.
    # g_i: 0.2 x 0.75 (no inhibitory spike).
    assert state.neurons.g_exc[0].tolist() == pytest.approx([0.3, 0.25, 10.4, 0.0], abs=1e-12)
    assert state.neurons.g_inh[0].tolist() == pytest.approx([0.0, 0.15, 0.0, 0.0], abs=1e-12)
    spikes, state = population_step(None, state, params)
    # Step 2. Neuron 0 refractory (9 steps left): held at -65. Neuron 1: dv = 0.005 ((-65 + 59.915)
    # + 0.25 x 59.915 + 0.15 (-100 + 59.915)) = 0.005 x 3.881 = 0.019405, v = -59.895595.
    # Neuron 2: dv = 0.05 (0 + 10.4 x (0 + 60)) = 31.2 (g dt / tau_m = 0.57, unbounded), v = -28.8
    # > -40: it fires and is reset to -45, refractory for 2 / 0.5 = 4 steps. Its spike inhibits
    # every excitatory neuron but its partner: g_i of neuron 1 = 0.15 x 0.75 + 17 = 17.1125.
    assert spikes.tolist() == [[0.0, 0.0, 1.0, 0.0]]
    assert state.neurons.v[0].tolist() == pytest.approx([-65.0, -59.895595, -45.0, -60.0], abs=1e-12)
    assert state.neurons.refractory_left.tolist() == [[9.0, 0.0, 4.0, 0.0]]
    assert state.neurons.g_exc[0].tolist() == pytest.approx([0.15, 0.125, 5.2, 0.0], abs=1e-12)
    assert state.neurons.g_inh[0].tolist() == pytest.approx([0.0, 17.1125, 0.0, 0.0], abs=1e-12)
    # No excitatory spike: thresholds only decay: 20.049999 (1 - 5e-8) = 20.049999 - 1.00249995e-6.
    assert state.theta[0].tolist() == pytest.approx(
        [20.04999799750005, 19.99999800000005, 0.0, 0.0], abs=1e-12
    )


def _tiny_layer(simulator: str) -> DiehlCookLayer:
    """3 inputs, 2 excitatory neurons; 2 ms of input and 1 ms of rest at dt = 0.5 ms: steps 0-3
    with input, 4-5 rest. Input 0 -> neuron 0 has weight 100, every other synapse 0.01."""
    params = preset("paper", presentation=2.0, rest=1.0, min_spikes=5, max_presentations=3)
    layer = DiehlCookLayer(3, 2, params, simulator=simulator)
    layer.weight.data.fill_(0.01)
    layer.weight.data[0, 0] = 100.0
    return layer


@pytest.mark.parametrize("simulator", ["torch", "auto"])
def test_hand_counted_operations_of_a_tiny_spike_train(simulator):
    """Input spikes (step, input): (0, 0), (0, 2), (1, 1), (3, 0).

    Step 0: inputs 0 and 2 add 100 + 0.01 to g_e of neuron 0. Step 1: its membrane moves by
    0.005 x 100.01 x 65 = 32.5 mV to -32.5 mV > -52 mV: excitatory spike 1, then refractory for 10
    steps (the rest of the run). It adds 10.4 to its inhibitory partner's g_e. Step 2: the partner
    moves by 0.05 x 10.4 x 60 = 31.2 mV to -28.8 mV > -40 mV: inhibitory spike 1, then refractory
    for 4 steps (steps 3-5). Neuron 1 (weights 0.01, then inhibited by g_i = 17) never fires.
    """
    layer = _tiny_layer(simulator)
    counts, _ = layer.run_spike_train(torch.tensor([0, 0, 1, 3]), torch.tensor([0, 2, 1, 0]), learning=False)
    assert counts.tolist() == [1.0, 0.0]
    assert layer.operation_counts(None, counts) == {
        # 4 input spikes x 2 targets + 1 excitatory spike x 1 (E -> I) + 1 inhibitory x (2 - 1)
        "effective_acs": 10,
        "neuron_updates": 24,  # 6 steps x 4 neurons
        "spikes": 2,  # 1 excitatory + 1 inhibitory
        "dense_macs": 24,  # 4 input steps x 3 inputs x 2 neurons
        "weight_reads": 8,  # a stored weight per input spike and target
        "input_reads": 4,  # one per input spike
        "state_reads": 34,  # every AC (10) and every update (24) reads a state
        "state_writes": 34,  # ... and writes it
        "output_writes": 2,  # every spike
        "weight_elements": 6,  # 3 x 2 input synapses (E -> I and I -> E are one constant each)
        "input_elements": 3,
        "state_elements": 4,  # 2 excitatory + 2 inhibitory neurons
    }


@pytest.mark.parametrize("simulator", ["torch", "auto"])
def test_hand_counted_operations_through_the_forward_hook_and_re_presentations(simulator):
    """Two blank images: no input spike, no neuron fires (excitatory rest -65 mV, threshold -52;
    inhibitory rest -60, threshold -40), so each evokes fewer than 5 spikes and is presented 3
    times (max_presentations), evaluated or learning."""
    layer = _tiny_layer(simulator)
    with count_operations(layer) as counted:
        layer(torch.zeros(2, 3))
    row = counted.per_sample()[""]
    assert row["neuron_updates"] == 72  # per image: 3 presentations x 6 steps x 4 neurons
    assert row["dense_macs"] == 72  # per image: 3 presentations x 4 input steps x 3 x 2
    assert row["effective_acs"] == 0 and row["spikes"] == 0
    # The statistics as a value: 2 images x 3 presentations x (4 + 2) steps, 4 of them with input.
    assert layer.run(torch.zeros(2, 3), learning=False)[2] == RunStats(36, 24, 0, 0, 0)
    layer.learn(torch.zeros(2, 3))
    assert layer.last_run == RunStats(36, 24, 0, 0, 0).as_dict()
    learnt = layer.learning_operation_counts()
    assert learnt["neuron_updates"] == 144  # 2 images x 3 presentations x 6 steps x 4 neurons
    assert learnt["dense_macs"] == 144  # 2 x 3 x 4 input steps x 3 x 2
    assert learnt["effective_acs"] == 0
