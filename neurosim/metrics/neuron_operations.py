"""The arithmetic of one conductance-neuron update, counted from its implementation, and what a
Diehl & Cook simulation's statistics say about its neurons' activity and its protocol.

**One update** (one neuron, one 0.5 ms step), as the scalar kernel runs it
(:func:`neurosim.models.diehl_cook_kernel._integrate` and the threshold loop of ``_slot``; the
torch simulation computes the same values). The decays of ``g_e``, ``g_i`` and ``theta`` are
constants computed once per run (``1 - dt / tau`` under Euler), so no exponential is evaluated
per step under the default ``euler`` integration; the exponential methods evaluate one
``exp(-g dt / tau_m)`` and one division ``v_inf = (...) / g`` per step. ``euler`` (the default)::

    left  = max(r - 1, 0)                       1 add, 1 compare
    free  = 1 - min(left, 1)                    1 add, 1 compare
    dv    = g_e (E_exc - v)                     1 add, 1 mul
    dv   += g_i (E_inh - v)                     2 add, 1 mul
    dv   += E_rest - v                          2 add
    dv   *= free * (dt / tau_m)                 2 mul
    overload: (g_e + g_i + 1) dt / tau_m > 1    2 add, 1 mul, 1 compare
    v     = v + dv                              1 add
    g_e  *= decay_e ; g_i *= decay_i            2 mul
    spike = v - thresh - theta > 0              2 add, 1 compare
            and r <= 0                          1 compare
    -----------------------------------------------------------------
    12 adds, 7 multiplies, 5 compares; reads v, g_e, g_i, r, theta (5), writes v, g_e, g_i, r (4)

``euler_unbounded`` drops the overload test (10 adds, 6 multiplies, 4 compares). The overloaded
branch of ``euler`` (``v <- v_inf``, with a division) runs only where more than ~12 inhibitory
spikes arrive in one step and is not counted. ``exponential_euler``::

    left, free                                  2 add, 2 compare
    g     = g_e + g_i + 1                       2 add
    v_inf = (g_e E_exc + g_i E_inh + E_rest) / g    2 mul, 2 add, 1 division
    g == 1 (no conductance: constant factor)    1 compare
    dv    = (v_inf - v)(1 - exp(-g dt / tau_m)) 2 add, 2 mul, 1 exp
    dv   *= free ; v = v + dv                   1 mul, 1 add
    decays                                      2 mul
    threshold                                   2 add, 2 compare
    -----------------------------------------------------------------
    11 adds, 7 multiplies, 5 compares, 1 division, 1 exp (counted at every step: an upper
    bound, the kernel skips the exp when g == 1)

``step_averaged`` adds two multiplies (the conductances' step means). While learning, every
excitatory threshold decays once per step (``theta *= decay_theta``: 1 multiply, 1 write). The
reset at a spike (``v := v_reset``, the refractory counter, ``theta += theta_plus``) stays priced
as one operation per spike, as for every spiking neuron (:mod:`neurosim.energy.pricing`); its 2-3
further adds per spike are far below the per-step work (spikes are ~1e-3 of neuron-steps).

**Activity.** A neuron-step is *active* when the neuron received at least one synaptic event or
fired in it (Loihi prices the others as inactive updates). The simulation keeps totals only
(:class:`~neurosim.models.diehl_cook_stats.RunStats`), so its active neuron-steps are bounded
from above: an input spike reaches every excitatory neuron (all to all), so at most
``N min(input steps, input spikes)`` input-driven excitatory neuron-steps; each inhibitory spike
makes at most ``N - 1`` excitatory neuron-steps active, each excitatory spike its inhibitory
partner's; each spike its own neuron's. The bound charges the most active updates, so it never
flatters the spiking model.

**Protocol.** ``presentations`` (per image: 1 plus its re-presentations), the neuron-steps of the
150 ms rests after first presentations and the neuron-steps of re-presentations are exact:
every presentation runs ``presentation_steps + rest_steps`` steps.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class NeuronOps(NamedTuple):
    """Operations of one neuron update (one neuron, one step)."""

    adds: int
    muls: int
    compares: int
    divisions: int
    exps: int
    state_reads: int
    state_writes: int


#: Per integration method (:data:`neurosim.neurons.conductance_lif.METHODS`), the common path of
#: one conductance-neuron update with frozen thresholds (module docstring).
CONDUCTANCE_OPS = {
    "euler": NeuronOps(12, 7, 5, 0, 0, 5, 4),
    "euler_unbounded": NeuronOps(10, 6, 4, 0, 0, 5, 4),
    "exponential_euler": NeuronOps(11, 7, 5, 1, 1, 5, 4),
    "step_averaged": NeuronOps(11, 9, 5, 1, 1, 5, 4),
}
#: The threshold decay of a learning excitatory neuron, per step.
THRESHOLD_DECAY_OPS = NeuronOps(0, 1, 0, 0, 0, 0, 1)
#: Ledger keys of the counted neuron arithmetic, in :class:`NeuronOps` order (state accesses:
#: ``neuron_state_reads`` / ``neuron_state_writes``).
OP_COUNTS = (
    "neuron_adds",
    "neuron_muls",
    "neuron_compares",
    "neuron_divisions",
    "neuron_exps",
    "neuron_state_reads",
    "neuron_state_writes",
)


class SimulationStats(Protocol):
    """What a conductance simulation recorded (:class:`~neurosim.models.diehl_cook_stats.RunStats`)."""

    steps: int
    input_steps: int
    input_spikes: int
    excitatory_spikes: int
    inhibitory_spikes: int


class ProtocolParams(Protocol):
    """The constants of a simulated protocol the counts need."""

    @property
    def integration(self) -> str: ...
    @property
    def presentation_steps(self) -> int: ...
    @property
    def rest_steps(self) -> int: ...


@runtime_checkable
class SimulatesConductanceNeurons(Protocol):
    """A layer of ``n_neurons`` excitatory and as many inhibitory conductance neurons that
    simulates a protocol (Diehl & Cook's layer): its last call's statistics ``last_stats`` and
    its ``params`` (``integration``, ``presentation_steps``, ``rest_steps``)."""

    last_stats: SimulationStats
    n_neurons: int
    params: ProtocolParams


def conductance_counts(
    stats: SimulationStats,
    n_neurons: int,
    images: int,
    params: ProtocolParams,
    learning: bool,
) -> dict[str, int]:
    """Counted arithmetic, active neuron-steps (a bound) and protocol of one simulation call of
    ``images`` images by ``n_neurons`` neuron pairs (module docstring), as ledger keys."""
    ops = CONDUCTANCE_OPS[params.integration]
    updates = stats.steps * 2 * n_neurons
    counts = {key: value * updates for key, value in zip(OP_COUNTS, ops, strict=True)}
    if learning:  # the N excitatory thresholds decay every step
        for key, value in zip(OP_COUNTS, THRESHOLD_DECAY_OPS, strict=True):
            counts[key] += value * stats.steps * n_neurons
    per_presentation = params.presentation_steps + params.rest_steps
    presentations = stats.steps // per_presentation if per_presentation else 0
    counts.update(
        conductance_updates=updates,
        active_neuron_updates=active_bound(stats, n_neurons),
        presentations=presentations,
        rest_neuron_updates=images * params.rest_steps * 2 * n_neurons,
        repeat_neuron_updates=max(presentations - images, 0) * per_presentation * 2 * n_neurons,
    )
    return counts


def active_bound(stats: SimulationStats, n_neurons: int) -> int:
    """Upper bound on the neuron-steps that received a synaptic event or fired (module docstring)."""
    n, steps = n_neurons, stats.steps
    excitatory = (
        n * min(stats.input_steps, stats.input_spikes)
        + (n - 1) * stats.inhibitory_spikes
        + stats.excitatory_spikes
    )
    inhibitory = stats.excitatory_spikes + stats.inhibitory_spikes
    return min(n * steps, excitatory) + min(n * steps, inhibitory)
