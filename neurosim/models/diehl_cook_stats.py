"""What a call of Diehl & Cook's layer simulated, returned as a value, and the operations it took."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class RunStats:
    """What presentations simulated, summed over their slots (the operation counts' inputs)."""

    steps: int = 0
    """Slot-steps simulated (input and rest)."""
    input_steps: int = 0
    """Slot-steps with input."""
    input_spikes: int = 0
    excitatory_spikes: int = 0
    """Every excitatory spike, rest included."""
    inhibitory_spikes: int = 0

    def __add__(self, other: RunStats) -> RunStats:
        pairs = zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True)
        return RunStats(*(a + b for a, b in pairs))

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def operation_counts_of(stats: RunStats, n_inputs: int, n_neurons: int) -> dict[str, int]:
    """The work of the presentations ``stats`` describes: each input spike adds its weight to N
    conductances, each excitatory spike one (E -> I), each inhibitory spike N - 1 (I -> E); every
    neuron is updated every step. ``dense_macs``: an input layer evaluated densely at every input
    step instead.

    Memory events (see :mod:`neurosim.metrics.operations`): only the input synapses are stored
    weights (E -> I and I -> E are one constant each); every AC read-modify-writes its target's
    conductance, every neuron update its state, and every spike is written out."""
    n = n_neurons
    acs = stats.input_spikes * n + stats.excitatory_spikes + stats.inhibitory_spikes * (n - 1)
    updates = stats.steps * 2 * n
    spikes = stats.excitatory_spikes + stats.inhibitory_spikes
    return {
        "dense_macs": stats.input_steps * n_inputs * n,
        "effective_acs": acs,
        "neuron_updates": updates,
        "spikes": spikes,
        "weight_reads": stats.input_spikes * n,
        "input_reads": stats.input_spikes,
        "state_reads": acs + updates,
        "state_writes": acs + updates,
        "output_writes": spikes,
        "weight_elements": n_inputs * n,
        "input_elements": n_inputs,
        "state_elements": 2 * n,
    }
