"""Trace-based STDP of Diehl & Cook (2015), the input -> excitatory synapses, and its trainer rule.

Each synapse ``w_ij`` (input ``i``, excitatory neuron ``j``) sees a presynaptic trace ``x_pre``
(one per input) and two postsynaptic traces ``x_post1``, ``x_post2`` (one per neuron), all decaying
exponentially (``tau_pre = tau_post1 = 20 ms``, ``tau_post2 = 40 ms``) and *set* to 1 by a spike::

    presynaptic spike of i:    x_pre,i := 1;   w_ij -= nu_pre  * x_post1,j              (depression)
    postsynaptic spike of j:   w_ij += nu_post * x_pre,i * x_post2,j(before the spike)   (potentiation)
                               x_post1,j := 1; x_post2,j := 1

with ``nu_pre = 1e-4``, ``nu_post = 1e-2`` and ``w`` clipped to ``[0, w_max = 1]`` after each
update. Before every example each neuron's incoming weights are rescaled to sum to 78 (for 784
inputs), the paper's competition for synaptic resources. This is the rule of the released code
(peter-u-diehl/stdp-mnist ``Diehl&Cook_spiking_MNIST.py``: ``eqs_stdp_pre_ee``,
``eqs_stdp_post_ee``); P. U. Diehl & M. Cook, Front. Comput. Neurosci. 9:99 (2015), section 2.3.

Traces decay by the exact factor ``exp(-dt / tau)`` per step (Brian's event-driven traces).
In a step with both, the presynaptic pathway acts before the postsynaptic one.

The updates are written per spike (event form): a presynaptic spike changes one row of the
weights ``[D, N]``, a postsynaptic spike one column.
"""

from __future__ import annotations

import math
from typing import Protocol, cast

import torch
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.base import write_delta
from neurosim.rules.layers import DIEHL_COOK_LAYER
from neurosim.rules.registry import RULES


def trace_decay(dt: float, tau: float) -> float:
    """Per-step decay factor of a trace: ``exp(-dt / tau)``."""
    return math.exp(-dt / tau)


def depressed(weight_rows: torch.Tensor, post1: torch.Tensor, nu_pre: float, w_max: float) -> torch.Tensor:
    """Depression at presynaptic spikes: the rows ``[E, N]`` of the weights of ``E`` presynaptic
    spikes (one slot's input each), after ``w_ij -= nu_pre x_post1,j`` with ``x_post1 [E, N]`` of
    each spike's slot, clipped to ``[0, w_max]``."""
    return (weight_rows - nu_pre * post1).clamp_(0.0, w_max)


def potentiated(
    weight_columns: torch.Tensor,
    pre_trace: torch.Tensor,
    post2_before: torch.Tensor,
    nu_post: float,
    w_max: float,
) -> torch.Tensor:
    """Potentiation at postsynaptic spikes: the columns ``[P, D]`` of the weights of ``P``
    postsynaptic spikes, after ``w_ij += nu_post x_pre,i x_post2,j`` with ``x_pre [P, D]`` of each
    spike's slot and ``x_post2 [P]`` of the spiking neuron (before its reset), clipped to
    ``[0, w_max]``."""
    return (weight_columns + nu_post * pre_trace * post2_before.unsqueeze(1)).clamp_(0.0, w_max)


def normalise_columns(weight: torch.Tensor, total: float) -> torch.Tensor:
    """Each neuron's (column's) incoming weights rescaled to sum to ``total``."""
    return weight * (total / weight.sum(dim=0, keepdim=True).clamp_min(1e-12))


class SpikeTotals(Protocol):
    """What the rule reads of a presentation's statistics: spikes summed over its steps."""

    input_spikes: int
    excitatory_spikes: int


class PlasticSpikingLayer(Protocol):
    """The layer the rule trains (Diehl & Cook's, :mod:`neurosim.models.diehl_cook_layer`):
    ``learn(x [M, D]) -> (counts [M, N], weights [D, N])`` with plasticity on, and its statistics."""

    weight: nn.Parameter
    n_inputs: int
    n_neurons: int
    last_stats: SpikeTotals

    def learn(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@RULES.register("diehl_cook_stdp")
class DiehlCookSTDPRule:
    """The trainer's handle on the network's own learning: a batch of images is presented with
    plasticity on (exact: one at a time, weights changing every step; batched: see
    :class:`~neurosim.models.diehl_cook.DiehlCookLayer`), and the weight change is written as
    ``-dw`` like every local rule's. The adaptive thresholds change inside the layer (they are
    state, not weights). The objective is the number of excitatory spikes per batch."""

    name = "diehl_cook_stdp"
    layer = DIEHL_COOK_LAYER
    objective = objective("excitatory_spikes", "excitatory spikes per presented training image")
    last_updates = 0

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        layer = cast(PlasticSpikingLayer, module)  # checked against DIEHL_COOK_LAYER when built
        before = layer.weight.detach().clone()
        counts, after = layer.learn(pre.flatten(1))
        # Every input spike depresses its N synapses; every excitatory spike potentiates its D.
        run = layer.last_stats
        self.last_updates = run.input_spikes * layer.n_neurons + run.excitatory_spikes * layer.n_inputs
        write_delta(layer.weight, after - before)
        return float(counts.sum())
