"""neurosim's Diehl & Cook network against the same equations in Brian2, spike for spike.

Both engines get the same input spike trains (Poisson, drawn once), the same initial weights and
thresholds, and simulate one presentation plus rest (1000 steps of 0.5 ms) from rest. In float64
(Brian2's precision) the excitatory spike counts agree on every neuron and the STDP weight changes
to ~1e-15 (tested: identical counts on >= 95 % of neurons and a weight-change correlation > 0.99,
the issue's bars, and in fact all counts).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.encoders import bernoulli_spike_events
from neurosim.models.diehl_cook_layer import DiehlCookLayer, preset

pytest.importorskip("brian2")  # the reference extra
brian2_reference = pytest.importorskip("neurosim.reference.brian2_diehl_cook")

N_INPUTS, N_NEURONS = 196, 20


def _setup(mode: str, seed: int, integration: str = "euler"):
    torch.manual_seed(seed)
    params = preset("paper", integration=integration)
    layer = DiehlCookLayer(N_INPUTS, N_NEURONS, params, mode=mode).double()
    layer.weight.data *= 2.0  # a 196-input retina needs stronger weights than 784 inputs to fire
    layer.theta.uniform_(0.0, 2.0)
    image = torch.rand(1, N_INPUTS, dtype=torch.float64)
    probability = image * 255.0 * params.dt / 1000.0  # a brighter input: up to 255 Hz
    steps, inputs = bernoulli_spike_events(
        probability, params.presentation_steps, torch.Generator().manual_seed(seed)
    )
    return params, layer, steps, inputs


def _brian2(params, layer, steps, inputs, theta, learning):
    return brian2_reference.run_spike_train(
        params,
        steps.numpy(),
        inputs.numpy(),
        layer.weight.detach().numpy(),
        theta.numpy(),
        params.presentation_steps + params.rest_steps,
        learning=learning,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "integration"),
    [(0, "step_averaged"), (1, "exponential_euler"), (2, "euler"), (3, "euler_unbounded")],
)
def test_exact_mode_matches_brian2_spikes_and_stdp(seed, integration):
    params, layer, steps, inputs = _setup("exact", seed, integration)
    weight_before, theta_before = layer.weight.detach().clone(), layer.theta.clone()
    counts, weight_after = layer.run_spike_train(steps, inputs, learning=True)
    reference = _brian2(params, layer, steps, inputs, theta_before, learning=True)
    counts = counts.numpy()
    assert counts.sum() > 20, "the test input must make the network fire"
    assert np.mean(counts == reference.counts) >= 0.95
    change = (weight_after - weight_before).numpy().ravel()
    reference_change = reference.weight.ravel() - weight_before.numpy().ravel()
    assert np.corrcoef(change, reference_change)[0, 1] > 0.99
    # What float64 actually reaches: every count and every weight change.
    np.testing.assert_array_equal(counts, reference.counts)
    np.testing.assert_allclose(change, reference_change, atol=1e-12)
    np.testing.assert_allclose(layer.theta.numpy(), reference.theta, atol=1e-6)


@pytest.mark.slow
def test_frozen_network_matches_brian2_in_both_modes():
    for mode in ("batched", "exact"):
        params, layer, steps, inputs = _setup(mode, 3)
        counts, weight_after = layer.run_spike_train(steps, inputs, learning=False)
        reference = _brian2(params, layer, steps, inputs, layer.theta, learning=False)
        assert counts.sum() > 20
        np.testing.assert_array_equal(counts.numpy(), reference.counts)
        assert torch.equal(weight_after, layer.weight.detach())
