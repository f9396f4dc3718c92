"""The counts of :mod:`neurosim.metrics.operations` as data (per-layer totals, per-sample tables)
and the arithmetic that books one layer call into them: exact dense and convolutional work with
zero-skipping, spiking-neuron updates, and the backward pass of backprop. The definitions of every
count are in :mod:`neurosim.metrics.operations`; which layer is counted by which of these is
:mod:`neurosim.metrics.layer_counters`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from neurosim.metrics.neuron_operations import OP_COUNTS
from neurosim.results.schema import OPERATION_NAMES

#: Per-inference work, summed over calls: the counts every fit stores per layer (one list, the
#: results schema's).
COUNTS = OPERATION_NAMES
#: Memory events, summed over calls like :data:`COUNTS`.
MEMORY_COUNTS = (
    "weight_reads",
    "input_reads",
    "state_reads",
    "state_writes",
    "output_writes",
    "weight_writes",
)
#: Work of training only (zero in an inference ledger), summed over calls.
TRAINING_COUNTS = (
    "backward_macs",
    "backward_neuron_updates",
    "plasticity_updates",
    "weight_updates",
    "optimizer_macs",
)
#: What a spiking neuron's update is made of, summed over calls like :data:`COUNTS`: the counted
#: arithmetic and state accesses of conductance neurons (:mod:`neurosim.metrics.neuron_operations`),
#: the neuron-steps that received a synaptic event or fired (exact for LIF populations, a bound for
#: a conductance simulation), and a simulated protocol's presentations and their neuron-steps.
NEURON_COUNTS = (
    *OP_COUNTS,
    "conductance_updates",
    "active_neuron_updates",
    "presentations",
    "rest_neuron_updates",
    "repeat_neuron_updates",
)
#: Memory sizes in elements, per sample: the largest seen, not a sum over calls.
MEMORY_SIZES = ("weight_elements", "input_elements", "state_elements")


@dataclass
class LayerCounts:
    """Running totals for one layer (over all calls and samples seen)."""

    kind: str
    dense_macs: int = 0
    effective_macs: int = 0
    effective_acs: int = 0
    neuron_updates: int = 0
    spikes: int = 0
    activations: int = 0
    zero_activations: int = 0
    weight_reads: int = 0
    input_reads: int = 0
    state_reads: int = 0
    state_writes: int = 0
    output_writes: int = 0
    weight_writes: int = 0
    backward_macs: int = 0
    backward_neuron_updates: int = 0
    plasticity_updates: int = 0
    weight_updates: int = 0
    optimizer_macs: int = 0
    neuron_adds: int = 0
    neuron_muls: int = 0
    neuron_compares: int = 0
    neuron_divisions: int = 0
    neuron_exps: int = 0
    neuron_state_reads: int = 0
    neuron_state_writes: int = 0
    conductance_updates: int = 0
    active_neuron_updates: int = 0
    presentations: int = 0
    rest_neuron_updates: int = 0
    repeat_neuron_updates: int = 0
    weight_elements: int = 0
    input_elements: int = 0
    state_elements: int = 0

    def add(self, name: str, value: int) -> None:
        """Add to a count; a size keeps the largest value seen."""
        if name in MEMORY_SIZES:
            setattr(self, name, max(getattr(self, name), int(value)))
        else:
            setattr(self, name, getattr(self, name) + int(value))

    def sizes(self, weight: int, inputs: torch.Tensor, outputs: torch.Tensor) -> None:
        """Record the memory sizes of one call: ``weight`` elements and the per-sample sizes of
        its input and output (dim 0 is the batch)."""
        self.add("weight_elements", weight)
        self.add("input_elements", inputs[0].numel() if inputs.dim() else 0)
        self.add("state_elements", outputs[0].numel() if outputs.dim() else 0)


@dataclass
class OperationCounts:
    """Per-layer totals and the number of samples they cover."""

    layers: dict[str, LayerCounts] = field(default_factory=dict)
    samples: int = 0

    def per_sample(self) -> dict[str, dict[str, float]]:
        """``{layer: {count: value per sample, ..., size: elements, "activation_sparsity":
        fraction}}``."""
        table = {}
        for name, counts in self.layers.items():
            row = {
                key: getattr(counts, key) / max(self.samples, 1)
                for key in COUNTS + MEMORY_COUNTS + TRAINING_COUNTS + NEURON_COUNTS
            }
            row.update({key: getattr(counts, key) for key in MEMORY_SIZES})
            row["activation_sparsity"] = (
                counts.zero_activations / counts.activations if counts.activations else float("nan")
            )
            table[name] = row
        return table


def is_binary(x: torch.Tensor) -> bool:
    """True when every value is exactly 0 or 1 (spikes)."""
    return bool(((x == 0) | (x == 1)).all())


def dense_weight(module: nn.Module) -> torch.Tensor | None:
    """The ``[out, in]`` weight of a dense-like leaf layer (``nn.Linear``, perceptron units, a
    fixed association layer), or ``None`` for anything else."""
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.dim() == 2 and not list(module.children()):
        return weight
    return None


def count_conv(
    counts: LayerCounts,
    x: torch.Tensor,
    weight: torch.Tensor,
    output_numel: int,
    stride: int | tuple = 1,
    padding: int | tuple = 0,
    groups: int = 1,
) -> None:
    """Exact counts of a 2-D convolution: convolving the indicator of non-zero inputs with the
    indicator of existing weights counts, per output value, the (input, synapse) pairs used."""
    # Each output value sums (in_channels / groups) x kH x kW products.
    counts.dense_macs += output_numel * (weight.shape[1] * weight.shape[2] * weight.shape[3])
    if weight.numel() == 0:  # a layer without cells yet (a Neocognitron layer before learning)
        return
    active = (x != 0).to(weight.dtype)
    used = nn.functional.conv2d(active, (weight != 0).to(weight.dtype), None, stride, padding, 1, groups)
    add_effective_work(counts, x, active, int(used.sum()), output_numel)


def add_effective_work(
    counts: LayerCounts, x: torch.Tensor, active: torch.Tensor, work: int, outputs: int
) -> None:
    """Book a layer call's effective work (ACs for a binary input, else MACs), its memory events
    and its input sparsity. ``outputs``: the output values the call produced."""
    nonzero = int(active.sum())
    if is_binary(x):
        counts.effective_acs += work
        # Event-driven: each synaptic event read-modify-writes its target's potential.
        counts.state_reads += work
        counts.state_writes += work
    else:
        counts.effective_macs += work
        counts.output_writes += outputs
    counts.weight_reads += work
    counts.input_reads += nonzero
    counts.activations += x.numel()
    counts.zero_activations += x.numel() - nonzero


def count_dense(counts: LayerCounts, x: torch.Tensor, weight: torch.Tensor) -> None:
    n_out, n_in = weight.shape
    rows = x.reshape(-1, n_in)
    counts.dense_macs += rows.shape[0] * n_in * n_out
    active = (rows != 0).to(weight.dtype)
    # Work happens where a non-zero input meets an existing synapse (sparse layers included).
    work = int((active @ (weight != 0).to(weight.dtype).t()).sum())
    add_effective_work(counts, rows, active, work, rows.shape[0] * n_out)


def count_neurons(counts: LayerCounts, spikes: torch.Tensor, current: torch.Tensor | None = None) -> None:
    """Book one step of a spiking population: an update per neuron, ``spikes`` emitted; with the
    step's input ``current`` (same shape), the neuron-steps that received input or fired."""
    counts.neuron_updates += spikes.numel()
    if current is not None:
        counts.active_neuron_updates += int(((current != 0) | (spikes != 0)).sum())
    else:  # no input to look at: every update counts as active
        counts.active_neuron_updates += spikes.numel()
    # Each neuron's state is read and written once per step; each spike is written out.
    counts.state_reads += spikes.numel()
    counts.state_writes += spikes.numel()
    fired = int(torch.count_nonzero(spikes))
    counts.spikes += fired
    counts.output_writes += fired
    counts.add("state_elements", spikes[0].numel())
    counts.activations += spikes.numel()
    counts.zero_activations += spikes.numel() - fired


def count_backward(
    counts: LayerCounts,
    output: torch.Tensor,
    x: torch.Tensor,
    synapses: Callable[[torch.Tensor], torch.Tensor],
    trains_weight: bool,
    weight_elements: int,
    derivatives: bool,
) -> None:
    """Book the backward pass of one layer call when the gradient of its ``output`` arrives.

    ``synapses(indicator)`` maps an input indicator (same shape as ``x``) to, per output value, the
    number of existing synapses it meets: with the all-ones indicator, the input-gradient MACs of an
    output value; with the non-zero-input indicator, its weight-gradient MACs. ``derivatives``: count
    an activation derivative per output value (non-spiking models; LIF layers count their own)."""
    if not output.requires_grad:
        return
    active = (x != 0).detach()
    needs_input_grad = x.requires_grad

    def on_gradient(gradient: torch.Tensor) -> None:
        flowing = (gradient != 0).to(torch.float32)

        def used(indicator: torch.Tensor) -> int:
            per_output = synapses(indicator)
            return int((per_output * flowing.reshape(per_output.shape)).sum())

        if needs_input_grad:
            work = used(torch.ones_like(active, dtype=torch.float32))
            counts.backward_macs += work
            counts.weight_reads += work
            counts.output_writes += x.numel()  # the input gradient
        if trains_weight:
            counts.backward_macs += used(active.to(torch.float32))
            counts.input_reads += int(active.sum())  # the stored activations, read again
            counts.weight_writes += weight_elements  # the gradient buffer, once per call
        if derivatives:
            counts.backward_neuron_updates += gradient.numel()

    output.register_hook(on_gradient)
