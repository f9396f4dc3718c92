"""Diehl & Cook's neurons as a pure step: N excitatory and N inhibitory conductance LIF neurons,
wired excitatory j -> inhibitory j and inhibitory k -> every excitatory j != k, with adaptive
thresholds on the excitatory ones.

One step of ``dt`` (ms), in Brian2's schedule *update -> threshold -> synapses -> reset* (the
neuron equations and their discretisations: :mod:`~neurosim.neurons.conductance_lif`)::

    update:     v, g_e, g_i <- integrate(v, g_e, g_i)      (v held while refractory)
                theta <- theta f_theta                     (adaptive only; f_theta = 1 - dt / tau_theta
                                                            under Euler, else exp(-dt / tau_theta))
    threshold:  s_j = 1 if v_j > v_thresh,j + theta_j and j is not refractory
    synapses:   g_e[exc j] += drive_j                      (the input layer's conductance, this step)
                g_e[inh j] += w_ei s_exc,j                 (w_ei = 10.4)
                g_i[exc j] += w_ie (sum_k s_inh,k - s_inh,j)   (w_ie = 17.0)
    reset:      v <- v_reset, refractory for round(t_ref / dt) steps, where s = 1
                theta <- theta + theta_plus s              (adaptive only; 0.05 mV, excitatory)

Conductances are in units of the leak conductance, potentials and ``theta`` in mV. A spike emitted
at step ``t`` reaches its targets' conductances at ``t`` and their membranes from ``t + 1``.

Reference: P. U. Diehl & M. Cook, "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Front. Comput. Neurosci. 9:99 (2015), section 2.1; the released
code peter-u-diehl/stdp-mnist (``Diehl&Cook_spiking_MNIST.py``: ``neuron_eqs_e``, ``neuron_eqs_i``,
the ``ei`` and ``ie`` connections).

Shapes: ``S`` independent simulations (slots) of ``N`` pairs; every state tensor ``[S, 2N]``,
excitatory neurons first; ``drive [S, N]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from neurosim.neurons.conductance_lif import (
    ConductanceLIFParams,
    ConductanceState,
    EulerConstants,
    integrate,
    reset,
    threshold_crossings,
)


class PopulationState(NamedTuple):
    """The state of ``S`` slots of the population."""

    neurons: ConductanceState
    """Membranes, conductances and refractory counters, each ``[S, 2N]``."""
    theta: torch.Tensor
    """Adaptive thresholds ``[S, 2N]`` (mV; 0 for the inhibitory neurons)."""


@dataclass(frozen=True)
class PopulationParams:
    """The population's constants.

    Attributes:
        neurons: the excitatory then the inhibitory neurons' constants as ``[2N]`` tensors
            (:func:`~neurosim.neurons.conductance_lif.stacked`), excitatory thresholds already
            lowered by the network's offset.
        constants: the integration's per-step constants for ``neurons``.
        weight_exc_inh: conductance an excitatory spike adds to its inhibitory partner (w_ei).
        weight_inh_exc: conductance an inhibitory spike adds to every other excitatory neuron (w_ie).
        theta_factor: the adaptive thresholds' decay factor per step.
        theta_plus: ``[2N]`` rise of a neuron's threshold per spike (mV; 0 for inhibitory ones).
        adaptive: whether thresholds decay and rise (learning); frozen otherwise, as in the
            paper's test mode.
    """

    neurons: ConductanceLIFParams
    constants: EulerConstants
    weight_exc_inh: float
    weight_inh_exc: float
    theta_factor: float
    theta_plus: torch.Tensor
    adaptive: bool


def synaptic_input(
    drive: torch.Tensor | None, spikes: torch.Tensor, neurons: ConductanceState, params: PopulationParams
) -> ConductanceState:
    """The synapses phase (pure: returns new conductances): the input layer's ``drive [S, N]``
    (``None``: none this step) onto the excitatory neurons, and this step's ``spikes [S, 2N]``
    through the E -> I and I -> E connections."""
    fresh = neurons._replace(g_exc=neurons.g_exc.clone(), g_inh=neurons.g_inh.clone())
    return _add_synaptic_input(drive, spikes, fresh, params)


def _add_synaptic_input(
    drive: torch.Tensor | None, spikes: torch.Tensor, neurons: ConductanceState, params: PopulationParams
) -> ConductanceState:
    """:func:`synaptic_input` written into ``neurons``' conductances (tensors the caller owns)."""
    n = spikes.shape[1] // 2
    g_exc, g_inh = neurons.g_exc, neurons.g_inh
    spike_e, spike_i = spikes[:, :n], spikes[:, n:]
    if drive is not None:
        g_exc[:, :n] += drive
    g_exc[:, n:].add_(spike_e, alpha=params.weight_exc_inh)
    g_inh[:, :n].add_(spike_i.sum(dim=1, keepdim=True) - spike_i, alpha=params.weight_inh_exc)
    return neurons


def population_step(
    drive: torch.Tensor | None, state: PopulationState, params: PopulationParams
) -> tuple[torch.Tensor, PopulationState]:
    """Advance the population one step (pure: returns new tensors).

    Args:
        drive: the input layer's conductance onto the excitatory neurons this step, ``[S, N]``
            (``None``: no input, as during the rest between images).
        state: the previous step's state.
        params: the population's constants.

    Returns:
        ``(spikes [S, 2N] (float 0/1, excitatory first), new state)``.
    """
    neurons = integrate(state.neurons, params.neurons, params.constants)  # new tensors
    theta = state.theta * params.theta_factor if params.adaptive else state.theta
    spikes = threshold_crossings(neurons, params.neurons, theta)
    neurons = _add_synaptic_input(drive, spikes, neurons, params)
    neurons = reset(neurons, params.neurons, spikes, params.constants)
    if params.adaptive:
        theta = theta + spikes * params.theta_plus
    return spikes, PopulationState(neurons, theta)
