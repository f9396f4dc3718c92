"""The STDP traces of Diehl & Cook (2015) as a pure step function.

Each input ``i`` has a presynaptic trace ``x_pre,i`` and each excitatory neuron ``j`` two
postsynaptic traces ``x_post1,j`` and ``x_post2,j`` (dimensionless, in [0, 1]). At every step of
``dt`` (ms) each decays exactly, as Brian's event-driven traces do, and a spike *sets* its trace to
1 (the released code's ``pre = 1.``, ``post1 = 1.``, ``post2 = 1.``, not an increment)::

    x <- x exp(-dt / tau)                       tau_pre = tau_post1 = 20 ms, tau_post2 = 40 ms
    x <- max(x, s)                              s = 1 where the trace's neuron spikes this step

The weight updates of a step (:func:`~neurosim.rules.stdp.depressed` at presynaptic spikes,
:func:`~neurosim.rules.stdp.potentiated` at postsynaptic ones) read the traces *between* these
two lines for the postsynaptic traces and after them for the presynaptic one: the presynaptic
pathway acts before the postsynaptic one (Brian's ``pre`` before ``post``), and potentiation reads
``x_post2`` before the spike that triggers it. :func:`trace_step` returns both views::

    seen = (max(x_pre e_pre, s_pre), x_post1 e_post1, x_post2 e_post2)     what the updates read
    new  = (seen.pre, max(seen.post1, s_post), max(seen.post2, s_post))     the state after the step

with ``e = exp(-dt / tau)``. One pre-post pair, input spike at ``t_pre``, neuron spike at
``t_post > t_pre`` (and none before): ``dw = nu_post exp(-(t_post - t_pre) / tau_pre) x_post2``,
``x_post2 = 0`` at a neuron's first spike; a later input spike ``dt'`` after a neuron spike:
``dw = -nu_pre exp(-dt' / tau_post1)``.

Reference: P. U. Diehl & M. Cook, "Unsupervised learning of digit recognition using
spike-timing-dependent plasticity", Front. Comput. Neurosci. 9:99 (2015), section 2.3; the released
code peter-u-diehl/stdp-mnist (``Diehl&Cook_spiking_MNIST.py``: ``eqs_stdp_ee``,
``eqs_stdp_pre_ee``, ``eqs_stdp_post_ee``).

Shapes: ``S`` independent simulations (slots); ``pre [S, D]``, ``post1`` and ``post2 [S, N]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from neurosim.rules.stdp import trace_decay


class Traces(NamedTuple):
    """The STDP traces of ``S`` slots (dimensionless, in [0, 1])."""

    pre: torch.Tensor
    """``x_pre [S, D]``, one per input."""
    post1: torch.Tensor
    """``x_post1 [S, N]`` (read by depression)."""
    post2: torch.Tensor
    """``x_post2 [S, N]`` (read by potentiation, before the neuron's own spike)."""


@dataclass(frozen=True)
class TraceParams:
    """Per-step decay factors ``exp(-dt / tau)`` of the three traces."""

    decay_pre: float
    decay_post1: float
    decay_post2: float

    @classmethod
    def from_time_constants(
        cls, dt: float, tau_pre: float, tau_post1: float, tau_post2: float
    ) -> TraceParams:
        """The factors for step ``dt`` and time constants ``tau`` (all in ms)."""
        return cls(trace_decay(dt, tau_pre), trace_decay(dt, tau_post1), trace_decay(dt, tau_post2))


def initial_traces(n_slots: int, n_inputs: int, n_neurons: int, like: torch.Tensor) -> Traces:
    """Every trace at 0, in ``like``'s dtype and on its device."""
    return Traces(
        like.new_zeros(n_slots, n_inputs),
        like.new_zeros(n_slots, n_neurons),
        like.new_zeros(n_slots, n_neurons),
    )


def trace_step(
    pre_spikes: torch.Tensor | None, post_spikes: torch.Tensor, traces: Traces, params: TraceParams
) -> tuple[Traces, Traces]:
    """Advance the traces one step (pure: returns new tensors).

    Args:
        pre_spikes: the inputs' spikes of this step, 0/1 ``[S, D]`` (``None``: no input, as during
            the rest between images).
        post_spikes: the excitatory neurons' spikes of this step, 0/1 ``[S, N]``.
        traces: the traces after the previous step.
        params: decay factors.

    Returns:
        ``(seen, new)``: the traces this step's weight updates read (decayed; ``pre`` set by
        ``pre_spikes``, ``post1`` and ``post2`` not yet set by ``post_spikes``) and the traces
        after the step.
    """
    pre = traces.pre * params.decay_pre
    post1 = traces.post1 * params.decay_post1
    post2 = traces.post2 * params.decay_post2
    if pre_spikes is not None:
        pre = torch.maximum(pre, pre_spikes)
    seen = Traces(pre, post1, post2)
    return seen, Traces(pre, torch.maximum(post1, post_spikes), torch.maximum(post2, post_spikes))
