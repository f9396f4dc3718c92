"""The compiled CPU kernel of Diehl & Cook's presentation against the torch simulation: the same
spikes, weights and thresholds for the same input spikes, in every mode, integrator and dtype."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from neurosim.errors import UserError
from neurosim.models.diehl_cook_layer import DiehlCookLayer, preset

from .conftest import REPO


def _present(simulator: str, params, n_slots: int, learning: bool, dtype, images: torch.Tensor):
    torch.manual_seed(1)
    layer = DiehlCookLayer(images.shape[1], 12, params, "batched", n_slots, simulator=simulator).to(dtype)
    layer.weight.data *= 784 / images.shape[1]  # the paper's drive per neuron on fewer inputs
    counts, weight = layer.present(images.to(dtype), learning, torch.Generator().manual_seed(3))
    return counts, weight, layer.theta.clone(), dict(layer.last_run)


@pytest.mark.parametrize("integration", ["euler", "euler_unbounded", "step_averaged", "exponential_euler"])
@pytest.mark.parametrize(
    "n_slots, learning", [pytest.param(1, True, marks=pytest.mark.slow), (3, True), (4, False)]
)
def test_the_kernel_simulates_exactly_what_the_torch_simulation_does(integration, n_slots, learning):
    # Same events (one generator), same operations in the same order and precision: every spike
    # count, weight and threshold agrees to the bit, re-presentations and the stream of slots too.
    params = preset("paper", integration=integration)
    images = torch.rand(7, 100, generator=torch.Generator().manual_seed(0)) * 0.6
    images[2] = 0.0  # a blank image: presented max_presentations times, then given up
    for dtype in (torch.float32, torch.float64):
        reference = _present("torch", params, n_slots, learning, dtype, images)
        compiled = _present("auto", params, n_slots, learning, dtype, images)
        assert reference[0].sum() > 20, "the network must fire for the comparison to mean anything"
        assert torch.equal(reference[0], compiled[0])
        assert torch.equal(reference[1], compiled[1])
        assert torch.equal(reference[2], compiled[2])
        assert reference[3] == compiled[3]  # input, excitatory and inhibitory spikes, steps
        if learning:  # thresholds rise only with spikes while learning
            assert reference[2].max() > params.theta_start


def test_the_kernel_bounds_euler_where_torch_does():
    # One inhibitory spike of 1000 puts a = (1 + 1000) dt / tau_m = 5 on the excitatory membranes:
    # bounded Euler ends the step at v_inf in both simulators, bit for bit, and that changes the
    # outcome against unbounded Euler (the bound is exercised, not dormant).
    images = torch.rand(7, 100, generator=torch.Generator().manual_seed(0)) * 0.6
    outcomes = {}
    for integration in ("euler", "euler_unbounded"):
        params = preset("paper", integration=integration, weight_inh_exc=1000.0)
        reference = _present("torch", params, 3, True, torch.float32, images)
        compiled = _present("auto", params, 3, True, torch.float32, images)
        for a, b in zip(reference[:3], compiled[:3], strict=True):
            assert torch.equal(a, b)
        outcomes[integration] = reference
    assert outcomes["euler"][0].sum() > 20
    assert not torch.equal(outcomes["euler"][1], outcomes["euler_unbounded"][1])


def test_the_kernel_learns_what_the_exact_mode_learns_over_several_images():
    # The exact mode (one slot, weights changed at every step) over images that each see the
    # weights the previous one left, normalisation and re-presentation included.
    params = preset("paper")
    images = torch.rand(5, 100, generator=torch.Generator().manual_seed(4)) * 0.5
    results = {}
    for simulator in ("torch", "auto"):
        torch.manual_seed(2)
        layer = DiehlCookLayer(100, 12, params, "exact", simulator=simulator)
        layer.weight.data *= 7.84
        counts, weight = layer.learn(images, torch.Generator().manual_seed(5))
        results[simulator] = (counts, weight, layer.theta.clone())
    for reference, compiled in zip(results["torch"], results["auto"], strict=True):
        assert torch.equal(reference, compiled)
    assert results["auto"][2].max() > params.theta_start  # thresholds rose with spikes


def test_an_unknown_simulator_names_the_valid_ones():
    with pytest.raises(UserError, match=r"simulator.*auto.*torch"):
        DiehlCookLayer(16, 3, preset("paper"), simulator="numba")


def test_the_kernel_leaves_torch_its_thread_count():
    """numba's OpenMP pool starts with every core and resets the OpenMP thread count it shares
    with torch; a fit worker given one thread must keep one (two would oversubscribe the cores).
    In a fresh process, since the reset happens when the pool starts."""
    script = (
        "import torch; from neurosim.models.diehl_cook_layer import DiehlCookLayer, preset; "
        "torch.set_num_threads(1); layer = DiehlCookLayer(4, 2, preset('paper')); "
        "layer.present(torch.full((3, 4), 0.5), learning=True, generator=torch.Generator().manual_seed(0)); "
        "print(torch.get_num_threads())"
    )
    environment = os.environ | {"PYTHONPATH": str(REPO), "NUMBA_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
    assert result.stdout.strip() == "1", result.stderr[-2000:]
