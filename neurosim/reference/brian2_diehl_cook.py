"""Diehl & Cook's network written in Brian2 equations: the cross-check and the speed baseline.

The same network as :mod:`neurosim.models.diehl_cook_layer` (the released code's Brian 1 model,
ported to Brian2 syntax), with the same integration choices: the preset's ``integration`` for the
neurons (Brian2's ``exponential_euler`` or ``euler``; ``step_averaged`` is ``exponential_euler``
with each conductance scaled by its step mean ``k = (tau / dt) (1 - exp(-dt / tau))`` in the
membrane equation, which Brian2's solver then holds fixed over the step as neurosim does),
event-driven (exact) STDP traces, and refractoriness that holds ``v``. It is fed given input
spike trains (a ``SpikeGeneratorGroup``) and initial weights and thresholds, so that both engines
can be compared spike for spike (``tests/test_brian2_crosscheck.py``), and it runs the paper's
protocol on Poisson inputs for ``benchmarks/stdp_speed.py``.

Brian2 runs on its ``numpy`` or ``cython`` runtime targets or as generated C++
(``cpp_standalone``); the units are Brian's (mV, ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.extras import require
from neurosim.models.diehl_cook_layer import DiehlCookParams
from neurosim.neurons.conductance_lif import step_mean


@dataclass
class Brian2Result:
    """What one Brian2 run produced."""

    counts: np.ndarray
    """Excitatory spike counts during the presentation (the input), ``[N]``."""
    weight: np.ndarray
    """Input weights after the run, ``[D, N]``."""
    theta: np.ndarray
    """Thresholds after the run, mV, ``[N]``."""


EXCITATORY_EQUATIONS = """
dv/dt = ((v_rest_e - v) + k_ge*ge * (E_exc - v) + k_gi*gi * (E_inh_e - v)) / tau_e : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
"""
ADAPTIVE_THRESHOLD = "dtheta/dt = -theta / tau_theta : volt"
FROZEN_THRESHOLD = "theta : volt (constant)"
INHIBITORY_EQUATIONS = """
dv/dt = ((v_rest_i - v) + k_ge*ge * (E_exc - v) + k_gi*gi * (E_inh_i - v)) / tau_i : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
"""
STDP_MODEL = """
w : 1
dpre/dt = -pre / tau_pre : 1 (event-driven)
dpost1/dt = -post1 / tau_post1 : 1 (event-driven)
dpost2/dt = -post2 / tau_post2 : 1 (event-driven)
"""
# The released code's rule: a presynaptic spike sets pre and depresses by post1; a postsynaptic one
# potentiates by pre * post2 (its value before this spike), then sets post1 and post2.
STDP_ON_PRE = """
ge_post += w
pre = 1.
w = clip(w - nu_pre * post1, 0, w_max)
"""
STDP_ON_POST = """
w = clip(w + nu_post * pre * post2, 0, w_max)
post1 = 1.
post2 = 1.
"""


def _namespace(params: DiehlCookParams) -> dict:
    from brian2 import ms, mV

    e, i = params.excitatory, params.inhibitory
    return {
        "v_rest_e": e.rest * mV, "v_reset_e": e.reset * mV, "v_thresh_e": e.threshold * mV,
        "theta_offset": params.theta_offset * mV,
        "tau_e": e.tau_membrane * ms, "E_inh_e": e.reversal_inhibitory * mV,
        "v_rest_i": i.rest * mV, "v_reset_i": i.reset * mV, "v_thresh_i": i.threshold * mV,
        "tau_i": i.tau_membrane * ms, "E_inh_i": i.reversal_inhibitory * mV,
        "E_exc": e.reversal_excitatory * mV,
        "tau_ge": e.tau_excitatory * ms, "tau_gi": e.tau_inhibitory * ms,
        "tau_theta": params.tau_theta * ms, "theta_plus": params.theta_plus * mV,
        "tau_pre": params.tau_pre * ms,
        "tau_post1": params.tau_post1 * ms, "tau_post2": params.tau_post2 * ms,
        "nu_pre": params.nu_pre, "nu_post": params.nu_post, "w_max": params.w_max,
        "w_exc_inh": params.weight_exc_inh, "w_inh_exc": params.weight_inh_exc,
        **_step_means(params),
    }  # fmt: skip


def _step_means(params: DiehlCookParams) -> dict:
    """``k_ge``, ``k_gi``: each conductance's mean over a step as a fraction of its start value for
    ``step_averaged`` (:func:`~neurosim.neurons.conductance_lif.step_mean`), else 1."""
    averaged = params.integration == "step_averaged"
    e, i = params.excitatory, params.inhibitory
    # The namespace has one tau_ge and one tau_gi for both groups (as the released code).
    if (e.tau_excitatory, e.tau_inhibitory) != (i.tau_excitatory, i.tau_inhibitory):
        raise ValueError("the Brian2 reference needs equal synaptic time constants in both groups")
    return {
        "k_ge": step_mean(params.dt, e.tau_excitatory) if averaged else 1.0,
        "k_gi": step_mean(params.dt, e.tau_inhibitory) if averaged else 1.0,
    }


def brian2_method(params: DiehlCookParams) -> str:
    """Brian2's state updater for the preset's ``integration``. Brian2's ``euler`` has no bound: it
    and neurosim's ``euler`` agree wherever no membrane step overshoots (see
    :func:`~neurosim.neurons.conductance_lif.integrate`)."""
    methods = {"step_averaged": "exponential_euler", "euler_unbounded": "euler"}
    return methods.get(params.integration, params.integration)


def build_network(
    params: DiehlCookParams, input_group, weight: np.ndarray, theta: np.ndarray, learning: bool
):
    """The groups and synapses on ``input_group`` (any Brian2 group of ``D`` sources); returns
    ``(objects, excitatory, input_synapses, spike_monitor)``."""
    require("reference")
    from brian2 import NeuronGroup, SpikeMonitor, Synapses, ms, mV

    e, i = params.excitatory, params.inhibitory
    n = weight.shape[1]
    excitatory = NeuronGroup(
        n, EXCITATORY_EQUATIONS + (ADAPTIVE_THRESHOLD if learning else FROZEN_THRESHOLD),
        threshold="v > v_thresh_e + theta - theta_offset",
        reset="v = v_reset_e" + ("; theta += theta_plus" if learning else ""),
        refractory=e.refractory * ms, method=brian2_method(params), name="excitatory",
    )  # fmt: skip
    inhibitory = NeuronGroup(
        n, INHIBITORY_EQUATIONS, threshold="v > v_thresh_i", reset="v = v_reset_i",
        refractory=i.refractory * ms, method=brian2_method(params), name="inhibitory",
    )  # fmt: skip
    excitatory.v, inhibitory.v = e.rest * mV, i.rest * mV
    excitatory.theta = theta * mV
    if learning:
        synapses = Synapses(
            input_group, excitatory, STDP_MODEL, on_pre=STDP_ON_PRE, on_post=STDP_ON_POST, name="input"
        )
    else:
        synapses = Synapses(input_group, excitatory, "w : 1", on_pre="ge_post += w", name="input")
    synapses.connect()  # all to all, source-major: synapse k joins input k // N to neuron k % N
    synapses.w = weight.ravel()
    exc_inh = Synapses(excitatory, inhibitory, on_pre="ge_post += w_exc_inh", name="exc_inh")
    exc_inh.connect(j="i")
    inh_exc = Synapses(inhibitory, excitatory, on_pre="gi_post += w_inh_exc", name="inh_exc")
    inh_exc.connect(condition="i != j")
    monitor = SpikeMonitor(excitatory, name="excitatory_spikes")
    return [excitatory, inhibitory, synapses, exc_inh, inh_exc, monitor], excitatory, synapses, monitor


def weights_of(synapses, shape: tuple[int, int]) -> np.ndarray:
    """A Synapses object's ``w`` as a ``[D, N]`` array."""
    weight = np.zeros(shape)
    weight[np.asarray(synapses.i[:]), np.asarray(synapses.j[:])] = np.asarray(synapses.w[:])
    return weight


def run_spike_train(
    params: DiehlCookParams,
    spike_steps: np.ndarray,
    spike_inputs: np.ndarray,
    weight: np.ndarray,
    theta: np.ndarray,
    n_steps: int,
    learning: bool = True,
    target: str = "numpy",
) -> Brian2Result:
    """One run of ``n_steps`` from rest on the given input spikes (input ``spike_inputs[k]`` fires at
    step ``spike_steps[k]``), starting from ``weight [D, N]`` and ``theta [N]`` (mV)."""
    require("reference")
    from brian2 import Network, SpikeGeneratorGroup, defaultclock, ms, prefs, start_scope

    start_scope()
    prefs.codegen.target = target
    defaultclock.dt = params.dt * ms
    inputs = SpikeGeneratorGroup(weight.shape[0], spike_inputs, spike_steps * params.dt * ms, name="inputs")
    objects, excitatory, synapses, monitor = build_network(params, inputs, weight, theta, learning)
    network = Network(inputs, *objects)
    network.run(n_steps * params.dt * ms, namespace=_namespace(params))
    # Counted during the input only (the presentation), as neurosim counts.
    during = np.asarray(monitor.t_[:]) < params.presentation * 1e-3 - params.dt * 1e-3 / 2
    counts = np.bincount(np.asarray(monitor.i[:])[during], minlength=weight.shape[1])
    return Brian2Result(counts, weights_of(synapses, weight.shape), np.asarray(excitatory.theta_[:]) * 1e3)


@dataclass
class Brian2Timing:
    """Seconds of a Brian2 protocol run, split as Brian reports them."""

    build_seconds: float
    """Code generation and compilation (cpp_standalone), or preparation (runtime targets)."""
    run_seconds: float
    """The simulation itself."""
    counts: np.ndarray
    """Excitatory spike counts during each presentation, ``[images, N]``."""


def run_protocol(
    params: DiehlCookParams,
    images: np.ndarray,
    weight: np.ndarray,
    target: str = "cpp_standalone",
    directory: str | None = None,
) -> Brian2Timing:
    """Learn from ``images [M, D]`` (in [0, 1]) with the paper's protocol: Poisson inputs at
    ``x * max_rate`` for ``presentation`` ms, then ``rest`` ms of silence, STDP and adaptive
    thresholds on, one image after another in a single Brian2 run. The two steps the paper does
    in Python between images (weight normalisation, re-presentation of silent images) are left out
    here, because in one standalone run they would need per-step summed variables; the neurosim
    side of a comparison must leave them out too (``min_spikes = 0``)."""
    import time

    require("reference")
    from brian2 import (
        Hz,
        Network,
        PoissonGroup,
        TimedArray,
        defaultclock,
        device,
        ms,
        prefs,
        set_device,
        start_scope,
    )

    start_scope()
    if target == "cpp_standalone":
        set_device("cpp_standalone", directory=directory, build_on_run=False)
    else:
        prefs.codegen.target = target
    defaultclock.dt = params.dt * ms
    # Rates in bins of the greatest common step of the two periods: input bins, then silent ones.
    bin_ms = (
        float(np.gcd(int(params.presentation * 10), int(params.rest * 10)) / 10)
        if params.rest
        else params.presentation
    )
    n_on, n_off = round(params.presentation / bin_ms), round(params.rest / bin_ms)
    rates = np.concatenate(
        [np.repeat(images[:, None, :], n_on, 1), np.zeros((len(images), n_off, images.shape[1]))], 1
    )
    stimulus = TimedArray(rates.reshape(-1, images.shape[1]) * params.max_rate * Hz, dt=bin_ms * ms)
    inputs = PoissonGroup(images.shape[1], rates="stimulus(t, i)", name="inputs")
    objects, _, _, monitor = build_network(params, inputs, weight, np.zeros(weight.shape[1]), True)
    network = Network(inputs, *objects)
    duration = len(images) * (params.presentation + params.rest) * ms
    namespace = {**_namespace(params), "stimulus": stimulus}
    started = time.perf_counter()
    network.run(duration, namespace=namespace)
    if target == "cpp_standalone":
        device.build(directory=directory, compile=True, run=False)
        build = time.perf_counter() - started
        started = time.perf_counter()
        device.run(directory=directory)
        run = time.perf_counter() - started
    else:
        build, run = 0.0, time.perf_counter() - started
    spike_times = np.asarray(monitor.t_[:]) * 1e3
    image_of = (spike_times // (params.presentation + params.rest)).astype(int)
    during = (spike_times % (params.presentation + params.rest)) < params.presentation
    counts = np.zeros((len(images), weight.shape[1]), dtype=np.int64)
    np.add.at(counts, (image_of[during], np.asarray(monitor.i[:])[during]), 1)
    if target == "cpp_standalone":
        device.reinit()
        set_device("runtime")
    return Brian2Timing(build, run, counts)
