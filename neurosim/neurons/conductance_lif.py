"""Conductance-based leaky integrate-and-fire neurons with an adaptive threshold (Diehl & Cook 2015).

Membrane equation (voltages in mV, time in ms, conductances in units of the leak conductance)::

    tau_m dv/dt = (E_rest - v) + g_e (E_exc - v) + g_i (E_inh - v)
    tau_e dg_e/dt = -g_e            tau_i dg_i/dt = -g_i
    tau_theta dtheta/dt = -theta    (excitatory neurons only; theta = 0 for the others)

A spike when ``v > v_thresh + theta`` (and the neuron is not refractory); then ``v := v_reset``,
``theta += theta_plus``, and ``v`` is held for the refractory period (conductances keep decaying).
An incoming spike through a synapse of weight ``w`` adds ``w`` to ``g_e`` or ``g_i`` of its target.

Discretisation, matched to Brian (checked against Brian2 in ``tests/test_brian2_crosscheck.py``):
forward ``euler`` (the default: the released code's Brian 1 applies it to every variable of these
nonlinear equations; bounded where a step would overshoot, see :func:`integrate`), or
``euler_unbounded`` (literally), ``step_averaged`` (exact decays of ``g`` and ``theta``; ``v``
exact for each conductance held at its mean over the step) or ``exponential_euler`` (the same,
with the conductance at the start of the step), all from the old values. The conductance at the
start of a step is its largest value in the step, so a 1 ms synapse integrated with 0.5 ms steps
by ``exponential_euler`` delivers ``(dt / tau) / (1 - exp(-dt / tau)) = 1.27`` times its charge
(a left Riemann sum): EPSPs +27 % in peak and area, IPSPs +13 %, against dt -> 0
(``tests/test_synaptic_integration.py``). The step mean ``g0 (tau / dt) (1 - exp(-dt / tau))``
delivers the exact charge for one synapse. Forward Euler is within a few per cent for one synapse
(its conductance decays by ``1 - dt / tau`` per step, 0.5 for the 1 ms synapse, which
undercounts the charge as much as the start-of-step value overcounts it), and in the network it
is the closer at dt = 0.5 ms: the inhibitory neuron that an excitatory spike drives crosses its
threshold ~0.5 ms later in the continuous dynamics, at the next step under Euler, a step later
under ``step_averaged``, whose slower inhibition lets 100 neurons fire 31 % more spikes per image
than the dt -> 0 limit (Euler: 10 %; ``docs/repro.md``). A step is
*update -> threshold -> synaptic input -> reset* (Brian2's schedule ``groups, thresholds,
synapses, resets``), so a spike emitted at step ``t`` changes conductances at ``t`` and the
membrane from ``t + 1``. A neuron that spiked at step ``s`` is refractory at steps
``s+1 .. s+R-1`` with ``R = round(t_ref / dt)`` (Brian2's ``timestep(t - lastspike) >=
timestep(t_ref)``).

Reference: P. U. Diehl & M. Cook, "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Front. Comput. Neurosci. 9:99 (2015), and the released code
(peter-u-diehl/stdp-mnist, ``Diehl&Cook_spiking_MNIST.py``), where the parameters below are set.

Shapes: every state tensor is ``[B, N]`` (B independent simulations of a population of N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch


@dataclass(frozen=True)
class ConductanceLIFParams:
    """One population's constants (mV, ms).

    Attributes:
        rest: resting potential E_rest.
        reset: potential after a spike.
        threshold: firing threshold (before the adaptive ``theta``).
        tau_membrane: membrane time constant.
        refractory: refractory period.
        tau_excitatory: decay of the excitatory conductance ``g_e``.
        tau_inhibitory: decay of the inhibitory conductance ``g_i``.
        reversal_excitatory: E_exc.
        reversal_inhibitory: E_inh.
    """

    rest: float
    reset: float
    threshold: float
    tau_membrane: float
    refractory: float
    tau_excitatory: float = 1.0
    tau_inhibitory: float = 2.0
    reversal_excitatory: float = 0.0
    reversal_inhibitory: float = -100.0


#: Diehl & Cook's excitatory neurons (their adaptive threshold's start and offset are constants of
#: the network, :class:`~neurosim.models.diehl_cook_layer.DiehlCookParams`).
EXCITATORY = ConductanceLIFParams(
    rest=-65.0, reset=-65.0, threshold=-52.0, tau_membrane=100.0, refractory=5.0, reversal_inhibitory=-100.0
)
#: Diehl & Cook's inhibitory neurons.
INHIBITORY = ConductanceLIFParams(
    rest=-60.0, reset=-45.0, threshold=-40.0, tau_membrane=10.0, refractory=2.0, reversal_inhibitory=-85.0
)


class ConductanceState(NamedTuple):
    """State of a population, each ``[B, N]``."""

    v: torch.Tensor
    """Membrane potential (mV)."""
    g_exc: torch.Tensor
    """Excitatory conductance (units of the leak conductance)."""
    g_inh: torch.Tensor
    """Inhibitory conductance."""
    refractory_left: torch.Tensor
    """Steps until the neuron integrates again (0: free); whole numbers stored as floats."""


# Spikes and flags are float 0/1 tensors, and conditions are written as arithmetic: on a CPU,
# comparisons, torch.where and masked fills on small tensors cost 3-8 times a multiply, and a
# network step is a few dozen such operations.


def initial_state(params: ConductanceLIFParams, shape: tuple[int, ...], device=None) -> ConductanceState:
    """At rest, no conductance, not refractory."""
    zeros = torch.zeros(shape, device=device)
    return ConductanceState(
        v=zeros + params.rest, g_exc=zeros, g_inh=zeros.clone(), refractory_left=zeros.clone()
    )


METHODS = ("euler", "euler_unbounded", "step_averaged", "exponential_euler")
#: The forward Euler methods (conductances and theta decay by ``1 - dt / tau`` per step).
EULER_METHODS = ("euler", "euler_unbounded")


class EulerConstants(NamedTuple):
    """Per-step constants of :func:`integrate` for one ``dt`` (computed once, not every step)."""

    dt_over_tau: torch.Tensor | float
    excitatory_decay: torch.Tensor | float
    inhibitory_decay: torch.Tensor | float
    refractory_steps: torch.Tensor | float
    method: str = "exponential_euler"
    excitatory_mean: torch.Tensor | float = 1.0
    """A conductance's mean over a step as a fraction of its start value (``step_averaged``)."""
    inhibitory_mean: torch.Tensor | float = 1.0


def _exact_decay(dt: float, tau: torch.Tensor | float) -> torch.Tensor | float:
    """``exp(-dt / tau)`` for a population's constants (tensors) or a scalar."""
    return torch.exp(-dt / tau) if isinstance(tau, torch.Tensor) else math.exp(-dt / tau)


def step_mean(dt: float, tau: torch.Tensor | float) -> torch.Tensor | float:
    """``(tau / dt) (1 - exp(-dt / tau))``: the mean of ``exp(-t / tau)`` over ``0 <= t < dt``."""
    return tau / dt * (1.0 - _exact_decay(dt, tau))


def euler_constants(
    params: ConductanceLIFParams, dt: float, method: str = "exponential_euler"
) -> EulerConstants:
    """``dt / tau_m``, the conductances' decay factors per step and ``R`` for ``method``:
    ``euler`` (factors ``1 - dt / tau``), ``exponential_euler`` or ``step_averaged``
    (``exp(-dt / tau)``; the latter also the conductances' step means, :func:`step_mean`)."""
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}; valid: {', '.join(METHODS)}")
    refractory = params.refractory / dt

    def factor(tau):
        return 1.0 - dt / tau if method in EULER_METHODS else _exact_decay(dt, tau)

    averaged = method == "step_averaged"
    return EulerConstants(
        dt / params.tau_membrane,
        factor(params.tau_excitatory),
        factor(params.tau_inhibitory),
        torch.round(refractory) if isinstance(refractory, torch.Tensor) else float(round(refractory)),
        method,
        step_mean(dt, params.tau_excitatory) if averaged else 1.0,
        step_mean(dt, params.tau_inhibitory) if averaged else 1.0,
    )


def integrate(
    state: ConductanceState, params: ConductanceLIFParams, constants: EulerConstants
) -> ConductanceState:
    """One step's update (before threshold, input and reset); returns a new state.

    ``v`` moves only where the neuron is free (``refractory_left`` reaches 0 in this step). With
    ``g = 1 + g_e + g_i`` and ``v_inf = (E_rest + g_e E_exc + g_i E_inh) / g`` (conductances held
    at their values at the start of the step; for ``step_averaged``, at their means over the step,
    ``g_e a_e`` and ``g_i a_i`` with ``a = (tau / dt) (1 - exp(-dt / tau))``)::

        euler_unbounded:    v <- v + dt / tau_m [(E_rest - v) + g_e (E_exc - v) + g_i (E_inh - v)]
                               = v + a (v_inf - v),   a = g dt / tau_m
        euler:              the same, but v <- v_inf where a > 1
        exponential_euler:  v <- v_inf + (v - v_inf) exp(-g dt / tau_m)

    Forward Euler overshoots ``v_inf`` once ``a > 1`` and is unstable once ``a > 2``: with 0.5 ms
    steps, from about 12 and 24 inhibitory spikes in one step onto an excitatory neuron (g_i = 17
    each). A network of a few hundred neurons reaches that when many fire together; the membrane
    then swings to hundreds of mV, every neuron fires, and the network never recovers (400 neurons
    on the MNIST subset: from ~750 images on, 25,600 spikes per image). ``euler`` ends such a step
    at ``v_inf`` (where a conductance-based membrane cannot pass) and is the unbounded method bit
    for bit wherever ``a <= 1``. Exponential Euler (Brian2's ``exponential_euler``) is exact for
    fixed conductances.
    """
    refractory_left = (state.refractory_left - 1.0).clamp_(min=0.0)
    v, g_exc, g_inh = state.v, state.g_exc, state.g_inh
    if constants.method in EULER_METHODS:
        dv = g_exc * (params.reversal_excitatory - v)
        dv += g_inh * (params.reversal_inhibitory - v)
        dv += params.rest - v
        dv *= free(refractory_left).mul_(constants.dt_over_tau)
        if constants.method == "euler":
            dv = _bounded(dv, v, g_exc, g_inh, params, constants, refractory_left)
    else:
        if constants.method == "step_averaged":
            g_exc, g_inh = g_exc * constants.excitatory_mean, g_inh * constants.inhibitory_mean
        total = g_exc + g_inh + 1.0
        target = g_exc * params.reversal_excitatory
        target += g_inh * params.reversal_inhibitory
        target += params.rest
        target /= total
        # dv = (v_inf - v) (1 - exp(-g dt / tau_m)), only where free.
        dv = (target - v).mul_(1.0 - torch.exp(total.mul_(-constants.dt_over_tau)))
        dv *= free(refractory_left)
    g_exc, g_inh = state.g_exc * constants.excitatory_decay, state.g_inh * constants.inhibitory_decay
    return ConductanceState(v + dv, g_exc, g_inh, refractory_left)


def _bounded(dv, v, g_exc, g_inh, params, constants, refractory_left) -> torch.Tensor:
    """Forward Euler's step ``dv = a (v_inf - v)``, ``a = (1 + g_e + g_i) dt / tau_m``, with the
    step bounded at ``v_inf`` where ``a > 1``: the step that would carry ``v`` past its equilibrium
    (impossible for a conductance-based membrane: ``v_inf`` lies between the reversal potentials)
    ends at it instead. Elsewhere ``dv`` is returned bit for bit. Selected per element, with no
    test of whether any neuron is overloaded: such a test would wait for the device every step."""
    total = g_exc + g_inh + 1.0
    overloaded = total * constants.dt_over_tau > 1.0
    target = g_exc * params.reversal_excitatory
    target += g_inh * params.reversal_inhibitory
    target += params.rest
    target /= total
    return torch.where(overloaded, (target - v) * free(refractory_left), dv)


def free(refractory_left: torch.Tensor) -> torch.Tensor:
    """1.0 where the neuron is not refractory, else 0.0."""
    return 1.0 - refractory_left.clamp(max=1.0)


def threshold_crossings(
    state: ConductanceState, params: ConductanceLIFParams, theta: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Spikes of this step (float 0/1 ``[B, N]``): ``v > threshold + theta`` where not refractory."""
    above = (state.v - params.threshold - theta).sign_().clamp_(min=0.0)
    return above.mul_(free(state.refractory_left))


def reset(
    state: ConductanceState, params: ConductanceLIFParams, spikes: torch.Tensor, constants: EulerConstants
) -> ConductanceState:
    """``v := v_reset`` and start the refractory period where ``spikes`` (float 0/1; a neuron
    spikes only when free, so its ``refractory_left`` is 0)."""
    v = state.v + spikes * (params.reset - state.v)
    refractory_left = state.refractory_left + spikes * constants.refractory_steps
    return ConductanceState(v, state.g_exc, state.g_inh, refractory_left)


def stacked(populations: list[tuple[ConductanceLIFParams, int]], device=None) -> ConductanceLIFParams:
    """Several populations as one: every constant a ``[sum of sizes]`` tensor, so that one call of
    :func:`integrate` advances them all (fewer, larger operations per time step)."""
    values = {
        name: torch.cat([torch.full((size,), float(getattr(params, name))) for params, size in populations])
        for name in ConductanceLIFParams.__dataclass_fields__
    }
    return ConductanceLIFParams(**{name: value.to(device) for name, value in values.items()})


def threshold_factor(tau_theta: float, dt: float, method: str = "exponential_euler") -> float:
    """The adaptive threshold's decay factor per step: Euler ``1 - dt / tau`` or exact
    ``exp(-dt / tau)``."""
    return 1.0 - dt / tau_theta if method in EULER_METHODS else math.exp(-dt / tau_theta)


def decay_threshold(
    theta: torch.Tensor, tau_theta: float, dt: float, method: str = "exponential_euler"
) -> torch.Tensor:
    """Decay of the adaptive threshold over one step (part of the update phase): ``theta`` times
    :func:`threshold_factor`; the increment, ``theta += theta_plus`` per spike, comes with the
    reset. Diehl & Cook: tau_theta = 1e7 ms, theta_plus = 0.05 mV."""
    return theta * threshold_factor(tau_theta, dt, method)
