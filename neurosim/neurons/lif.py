"""Leaky integrate-and-fire neurons: a pure step function and a thin module over time.

Continuous model: ``tau_mem dU/dt = -U + R I(t)``; a spike when ``U`` crosses ``theta``,
then a reset. Forward-Euler / exact-exponential discretisation with step ``dt``
(``beta = exp(-dt / tau_mem)``, input scaled into the current), as in snnTorch's ``Leaky``::

    r_t = S_{t-1}                                  (reset from the previous step, no gradient)
    U_t = beta U_{t-1} + I_t - r_t theta           (reset by subtraction)
    U_t = beta (1 - r_t) U_{t-1} + I_t             (reset to zero)
    S_t = H(U_t - theta)                           (surrogate gradient backward)

With ``refractory_steps = R > 0``, a neuron that spiked ignores its input and cannot spike for
the R steps that follow (its membrane only decays). Without refractoriness, ``S_{t-1} =
H(U_{t-1} - theta)`` and the dynamics equal snnTorch's ``Leaky(beta, threshold,
reset_mechanism, spike_grad)`` exactly, spikes, membranes and gradients (tested).

References: Lapicque 1907; Gerstner et al. 2014, *Neuronal Dynamics*, ch. 1; Eshraghian et al.
2023, "Training spiking neural networks using lessons from deep learning", Proc. IEEE 111:1016.

Shapes: time-first. :meth:`LIF.run` takes currents ``[T, B, ...]`` and returns spikes and
membranes of the same shape; state is created from the input, so nothing needs resetting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from neurosim.errors import UserError, choices_message
from neurosim.neurons.surrogate import SURROGATES, SurrogateSpike, surrogate

RESETS = ("subtract", "zero")


class LIFState(NamedTuple):
    """State of a population of LIF neurons (all tensors shaped like the input current)."""

    mem: torch.Tensor
    """Membrane potential U (units of the threshold)."""
    spikes: torch.Tensor
    """Spikes of the previous step (0/1), which trigger this step's reset."""
    refractory: torch.Tensor
    """Steps of refractoriness left (0 = free to integrate and spike)."""


@dataclass(frozen=True)
class LIFParams:
    """Parameters of an LIF population.

    Attributes:
        beta: membrane decay per step, ``exp(-dt / tau_mem)``, in [0, 1].
        threshold: firing threshold theta (dimensionless, the unit of U).
        reset: ``subtract`` (U -= theta) or ``zero`` (U := 0) after a spike.
        surrogate: surrogate gradient name (``atan`` or ``fast_sigmoid``).
        surrogate_scale: its slope / alpha; ``None`` for the default.
        refractory_steps: steps after a spike without integration or spiking.
    """

    beta: float = 0.95
    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: str = "atan"
    surrogate_scale: float | None = None
    refractory_steps: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise UserError(f"LIF beta must lie in [0, 1], got {self.beta}")
        if self.reset not in RESETS:
            raise UserError(choices_message("reset", self.reset, RESETS))
        SURROGATES.get(self.surrogate)
        if self.refractory_steps < 0:
            raise UserError(f"refractory_steps must be >= 0, got {self.refractory_steps}")

    @classmethod
    def from_time_constant(cls, tau_mem_ms: float, dt_ms: float, **kwargs: object) -> LIFParams:
        """Parameters with ``beta = exp(-dt / tau_mem)``."""
        return cls(beta=math.exp(-dt_ms / tau_mem_ms), **kwargs)


def initial_state(current: torch.Tensor) -> LIFState:
    """Resting state shaped like one step's input current ``[B, ...]``."""
    zeros = torch.zeros_like(current)
    return LIFState(zeros, zeros, torch.zeros_like(current, dtype=torch.int32))


def lif_step(
    current: torch.Tensor, state: LIFState, params: LIFParams, spike_fn: SurrogateSpike | None = None
) -> tuple[torch.Tensor, LIFState]:
    """Advance LIF neurons one step (pure: returns new tensors).

    Args:
        current: input current I_t, ``[B, ...]``.
        state: the previous step's state.
        params: neuron parameters.
        spike_fn: the surrogate spike function (built from ``params`` when omitted; pass it to
            avoid rebuilding it every step).

    Returns:
        ``(spikes S_t, new state)``.
    """
    spike_fn = spike_fn or surrogate(params.surrogate, params.surrogate_scale)
    reset = state.spikes.detach()
    if params.refractory_steps == 0:
        # Same order of operations as snnTorch, so the two agree bit for bit.
        if params.reset == "subtract":
            mem = params.beta * state.mem + current - reset * params.threshold
        else:
            mem = params.beta * (1 - reset) * state.mem + current
        spikes = spike_fn(mem - params.threshold)
        return spikes, LIFState(mem, spikes, state.refractory)
    if params.reset == "subtract":
        leaked = params.beta * state.mem - reset * params.threshold
    else:
        leaked = params.beta * (1 - reset) * state.mem
    started = torch.full_like(state.refractory, params.refractory_steps)
    refractory = torch.where(reset > 0, started, (state.refractory - 1).clamp(min=0))
    free = (refractory == 0).to(current.dtype)
    mem = leaked + free * current
    spikes = spike_fn(mem - params.threshold) * free
    return spikes, LIFState(mem, spikes, refractory)


class LIF(nn.Module):
    """A population of LIF neurons. ``forward`` is one step (so forward hooks see every step:
    that is how spikes and neuron updates are counted); :meth:`run` runs a ``[T, B, ...]`` input."""

    def __init__(self, params: LIFParams) -> None:
        super().__init__()
        self.params = params
        self.spike_fn = surrogate(params.surrogate, params.surrogate_scale)

    def forward(self, current: torch.Tensor, state: LIFState | None = None) -> tuple[torch.Tensor, LIFState]:
        """One step from ``state`` (from rest when ``None``); returns ``(spikes, new state)``."""
        state = state if state is not None else initial_state(current)
        return lif_step(current, state, self.params, self.spike_fn)

    def run(self, currents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run all T steps from rest; returns spikes and membranes, both ``[T, B, ...]``.

        (A hand-fused scan with a manual BPTT backward was measured slower than this on CPU; the
        cost that matters is stacking records a network does not need, see ``SpikingMLP``.)
        """
        state = None
        spikes, mems = [], []
        for current in currents:
            spike, state = self(current, state)
            spikes.append(spike)
            mems.append(state.mem)
        return torch.stack(spikes), torch.stack(mems)
