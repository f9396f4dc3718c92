"""Energy estimates: operation and memory-event counts priced by a hardware profile, per inference
or (a training ledger, :mod:`neurosim.metrics.training`) per presented training sample.

For a layer ``l`` with per-inference counts ``n_l(t)`` of each term ``t`` and a profile with
price ``e(t)`` (pJ)::

    E_compute = sum_l sum_t n_l(t) e(t)                            t in mac, ac, lif_update, activation, spike
    E_memory  = sum_l sum_m n_l(m) E_access(size_l(m))              m in weight/input/state reads and writes

with ``E_access`` from the profile's memory model (:mod:`neurosim.energy.profiles`): a weight read
hits the layer's weight memory (``weight_elements`` words), an input read its input, a state read
or write and an output write its neurons or output values. Counts come from
:func:`neurosim.metrics.count_operations` (per sample). A spiking neuron's update is a
``lif_update``; a non-spiking layer's output evaluation an ``activation``.

**Neuron updates** (the ``lif_update`` term, :class:`NeuronPricing`): a conductance neuron's update
(Diehl & Cook) is priced from its counted arithmetic (``neuron_adds`` ... ``neuron_exps``,
:mod:`neurosim.metrics.neuron_operations`) where the profile prices every operation
(:data:`~neurosim.energy.profiles.OP_TERMS`), and its state traffic is its counted accesses
(``neuron_state_reads`` / ``writes``: five variables read, four written) instead of one read and
one write; elsewhere an update is one ``lif_update``. A profile with an inactive-update price
(Loihi) charges it for the neuron-steps that received no synaptic event and did not fire
(``neuron_updates - active_neuron_updates``); a row without ``active_neuron_updates`` counts every
update as active::

    E_neuron = sum_op n(op) e(op)                                   counted (conductance neurons)
    E_neuron = n_active e(lif_update) + n_inactive e(lif_update_inactive)       otherwise

Estimates, never measurements: they are labelled with their profile, and a term the profile does
not price is reported as unpriced (NaN), never as 0 (``docs/references/energy.md`` section 5.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurosim.energy.profiles import COMPUTE_TERMS, MEMORY_TERMS, HardwareProfile

TERMS = COMPUTE_TERMS + MEMORY_TERMS
#: Layer kinds whose ``neuron_updates`` are spiking-neuron steps (the rest are activations).
SPIKING_KINDS = ("lif", "spiking")
#: Memory term -> (count in the ledger, size the access is priced at).
MEMORY_EVENTS = {
    "weight_read": ("weight_reads", "weight_elements"),
    "input_read": ("input_reads", "input_elements"),
    "state_read": ("state_reads", "state_elements"),
    "state_write": ("state_writes", "state_elements"),
    "output_write": ("output_writes", "state_elements"),
    "weight_write": ("weight_writes", "weight_elements"),
}


#: Ledger key of the counted neuron arithmetic priced by each operation's price.
OP_COUNT_KEYS = {
    "add": "neuron_adds",
    "mul": "neuron_muls",
    "compare": "neuron_compares",
    "division": "neuron_divisions",
    "exp": "neuron_exps",
}


@dataclass(frozen=True)
class NeuronPricing:
    """How neuron updates are priced (the assumptions the sensitivity table varies).

    Attributes:
        counted: a conductance neuron's update from its counted operations and state accesses
            (else as one LIF update with one state read and write, the literature's default).
        inactive: the profile's inactive-update price for silent neuron-steps, where it has one
            (else every neuron-step at the active price).
        exp_division_scale: factor on the ``exp`` and ``division`` prices (assumed or derived
            second-hand: varied by the sensitivity table).
    """

    counted: bool = True
    inactive: bool = True
    exp_division_scale: float = 1.0


#: The assumptions of every stored estimate.
REFERENCE_PRICING = NeuronPricing()


def layer_events(
    row: dict[str, float], kind: str, pricing: NeuronPricing = REFERENCE_PRICING
) -> dict[str, float]:
    """Per-inference count of every term for one layer's ledger row (``pricing.counted``: a
    conductance neuron's counted state accesses replace its one read and one write per update)."""
    # Training (zero at inference): a derivative per neuron value in the backward pass is priced
    # as the forward update; backward MACs, plasticity updates (w += eta pre post) and optimiser
    # arithmetic as MACs.
    updates = row.get("neuron_updates", 0.0) + row.get("backward_neuron_updates", 0.0)
    spiking = kind in SPIKING_KINDS
    macs = sum(
        row.get(k, 0.0) for k in ("effective_macs", "backward_macs", "plasticity_updates", "optimizer_macs")
    )
    events = {
        "mac": macs,
        "ac": row.get("effective_acs", 0.0),
        "lif_update": updates if spiking else 0.0,
        "activation": 0.0 if spiking else updates,
        "spike": row.get("spikes", 0.0),
    }
    events.update({term: row.get(count, 0.0) for term, (count, _) in MEMORY_EVENTS.items()})
    conductance = row.get("conductance_updates", 0.0)
    if pricing.counted and conductance:
        events["state_read"] += row.get("neuron_state_reads", 0.0) - conductance
        events["state_write"] += row.get("neuron_state_writes", 0.0) - conductance
    return events


def neuron_energy(row: dict[str, float], profile: HardwareProfile, pricing: NeuronPricing) -> float:
    """pJ of a spiking layer's neuron updates (module docstring); NaN when unpriced."""
    updates = row.get("neuron_updates", 0.0) + row.get("backward_neuron_updates", 0.0)
    if not updates:
        return 0.0
    conductance = row.get("conductance_updates", 0.0)
    if pricing.counted and conductance and profile.prices_operations:
        scale = {"exp": pricing.exp_division_scale, "division": pricing.exp_division_scale}
        counted = sum(
            row.get(key, 0.0) * profile.prices[op].value * scale.get(op, 1.0)
            for op, key in OP_COUNT_KEYS.items()
        )
        return counted + (updates - conductance) * compute_price(profile, "lif_update")
    active_price = compute_price(profile, "lif_update")
    inactive_price = active_price
    if pricing.inactive and "lif_update_inactive" in profile.prices:
        inactive_price = profile.prices["lif_update_inactive"].value
    # Only forward updates can be silent; a backward derivative is always computed.
    forward = row.get("neuron_updates", 0.0)
    silent = forward - min(row.get("active_neuron_updates", forward), forward)
    return (updates - silent) * active_price + silent * inactive_price


def compute_price(profile: HardwareProfile, term: str) -> float:
    """pJ per event of a compute term: its price, 0 when included in another, NaN when unpriced."""
    if term in profile.prices:
        return profile.prices[term].value
    return 0.0 if term in profile.included else math.nan


def layer_energy(
    row: dict[str, float], kind: str, profile: HardwareProfile, pricing: NeuronPricing = REFERENCE_PRICING
) -> dict[str, float]:
    """pJ per inference of each term for one layer: NaN for a compute term with events but no
    price (0 without events), and for every memory term when the profile does not model memory."""
    events = layer_events(row, kind, pricing)
    energy = {}
    for term in COMPUTE_TERMS:
        energy[term] = events[term] * compute_price(profile, term) if events[term] else 0.0
    if events["lif_update"]:
        energy["lif_update"] = neuron_energy(row, profile, pricing)
    for term in MEMORY_TERMS:
        access = profile.access_energy(row.get(MEMORY_EVENTS[term][1], 0))
        energy[term] = access if math.isnan(access) else events[term] * access
    return energy


@dataclass(frozen=True)
class EnergyEstimate:
    """One model's energy per inference under one profile, in pJ, by term (NaN: unpriced)."""

    profile: str
    by_term: dict[str, float]

    @property
    def unpriced(self) -> list[str]:
        """Compute terms with events but no price (memory is a whole model: see ``memory``)."""
        return [t for t in COMPUTE_TERMS if math.isnan(self.by_term[t])]

    @property
    def compute(self) -> float:
        """Compute energy; NaN when a term with events is unpriced."""
        return sum(self.by_term[t] for t in COMPUTE_TERMS)

    @property
    def memory(self) -> float:
        """Memory-access energy; NaN when the profile does not model memory."""
        return sum(self.by_term[t] for t in MEMORY_TERMS)

    @property
    def priced_compute(self) -> float:
        """The compute energy of the priced terms only (a lower bound when some are unpriced)."""
        return sum(v for t in COMPUTE_TERMS if not math.isnan(v := self.by_term[t]))


def model_events(
    per_layer: dict[str, dict[str, float]], kinds: dict[str, str], pricing: NeuronPricing = REFERENCE_PRICING
) -> dict[str, float]:
    """Per-inference count of every term, summed over a model's layers (the same for every profile)."""
    events = dict.fromkeys(TERMS, 0.0)
    for layer, row in per_layer.items():
        for term, value in layer_events(row, kinds[layer], pricing).items():
            events[term] += value
    return events


def price(
    per_layer: dict[str, dict[str, float]],
    kinds: dict[str, str],
    profile: HardwareProfile,
    pricing: NeuronPricing = REFERENCE_PRICING,
) -> EnergyEstimate:
    """Price a model's per-layer, per-inference ledger (:meth:`OperationCounts.per_sample`)."""
    by_term = dict.fromkeys(TERMS, 0.0)
    for layer, row in per_layer.items():
        for term, value in layer_energy(row, kinds[layer], profile, pricing).items():
            by_term[term] += value
    return EnergyEstimate(profile.id, by_term)
