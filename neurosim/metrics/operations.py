"""Exact operation counts per layer and per sample, recorded by forward hooks during inference.

Names follow NeuroBench (Yik et al. 2024, "NeuroBench: a framework for benchmarking neuromorphic
computing algorithms and systems", arXiv:2304.04640) where it has one:

* ``dense_macs``: multiply-accumulates of a dense layer as if every input were non-zero,
  ``in_features x out_features`` per call (each time step is a call).
* ``effective_macs``: MACs with a real-valued (non-binary) input, counting only non-zero inputs
  that meet an existing synapse: ``sum_i [x_i != 0] * fan_out_i`` (``nnz(x) x out_features``
  for a fully connected layer; fewer for a sparse one such as Rosenblatt's association layer).
* ``effective_acs``: accumulates (synaptic operations, "SyOps") with a binary input (spikes or
  threshold-unit outputs): each active input adds its weight to each of its targets.
* For ``nn.Conv2d`` layers the same counts are exact too: dense MACs are output values x
  (in_channels / groups) x kH x kW; effective work is the convolution of the non-zero-input
  indicator with the existing-weight indicator, summed (padding contributes nothing).
  Max-pooling comparisons are not counted. Layers built on functional convolutions (the
  Neocognitron's cells, LeNet-5's partially connected C3) describe them through a
  ``convolutions(x)`` method: ``(input, kernel, stride, padding, groups, output values)`` for each
  convolution one call performs, counted the same way.
* Layers whose work is neither (Diehl & Cook's spiking layer, a label-assignment readout) count
  it themselves: ``operation_counts(input, output) -> {count name: total over the call}``, under
  their ``operation_kind``.
* ``neuron_updates``: state updates of spiking neurons (one per neuron per step); for
  non-spiking layers the activation evaluations (``out_features`` per call).
* ``spikes``: spikes emitted by a spiking layer.
* ``activation_sparsity``: fraction of zero activations: of a LIF layer's spikes, and for a
  dense layer, of its input (the previous layer's activations: ReLU outputs or spikes; the
  pixels for the first layer).

Memory events (the terms NeuroBench lacks; Lemaire et al. 2022, arXiv:2210.13107, Table 1, and
``docs/references/energy.md`` section 5.2), for pricing by :mod:`neurosim.energy`. Both members
of a pair are given the same zero-skipping hardware, so a ReLU's zeros save work as a silent
input does (a dense accelerator would read ``dense_macs`` weights instead):

* ``weight_reads``: one per effective MAC or AC (each used synapse fetches its weight).
* ``input_reads``: one per non-zero input value (a spike event read from its queue, or an
  activation).
* ``state_reads`` / ``state_writes``: an accumulate from a spike is a read-modify-write of the
  target's membrane potential (one each per AC); a spiking neuron's update reads and writes its
  state once per step. A MAC layer accumulates in a register and writes each output once.
* ``output_writes``: each output value of a MAC layer, and each spike emitted.
* Sizes, per sample (not summed over calls), price an access by the memory it hits:
  ``weight_elements`` (a layer's weights), ``input_elements`` (its input) and ``state_elements``
  (its output values or neurons).

Training (:mod:`neurosim.metrics.training`, counted with ``training=True``) adds, per layer:

* ``backward_macs``: the backward pass of backprop, with zero-skipping on both factors. For each
  output value with a non-zero gradient ``g``, the input gradient takes one MAC per (existing
  synapse, real input position) and the weight gradient one per (existing synapse, non-zero
  input). A layer whose input needs no gradient (the first) skips the first kind; one without
  trainable weights, the second.
* ``backward_neuron_updates``: one derivative evaluation per neuron value whose output gradient
  flows (a surrogate spike derivative per LIF neuron per step; an activation derivative).
* ``plasticity_updates``: per-sample synapse changes of a local rule (reported by the rule).
* ``weight_updates``: weight values changed by an optimiser step (non-zero change), and
  ``optimizer_macs``, the optimiser's arithmetic for them.
* ``weight_writes`` (a memory count): the weight-gradient buffer written once per backward call,
  and the read-modify-write of every plasticity and weight update (with the optimiser's state,
  which lives in weight-sized memory). Forward memory events are as above.

A dense layer's input is binary when every value is 0 or 1; then its work is counted as ACs,
otherwise as MACs; never both. Counts are totals over all time steps, divided by the batch size.
With direct encoding the first layer runs once per sample (its input does not change over time),
and that is what is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from neurosim.neurons import LIF

COUNTS = ("dense_macs", "effective_macs", "effective_acs", "neuron_updates", "spikes")
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
                for key in COUNTS + MEMORY_COUNTS + TRAINING_COUNTS
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


def _count_conv(
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
    _add_effective_work(counts, x, active, int(used.sum()), output_numel)


def _add_effective_work(
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


def _count_dense(counts: LayerCounts, x: torch.Tensor, weight: torch.Tensor) -> None:
    n_out, n_in = weight.shape
    rows = x.reshape(-1, n_in)
    counts.dense_macs += rows.shape[0] * n_in * n_out
    active = (rows != 0).to(weight.dtype)
    # Work happens where a non-zero input meets an existing synapse (sparse layers included).
    work = int((active @ (weight != 0).to(weight.dtype).t()).sum())
    _add_effective_work(counts, rows, active, work, rows.shape[0] * n_out)


def _count_neurons(counts: LayerCounts, spikes: torch.Tensor) -> None:
    counts.neuron_updates += spikes.numel()
    # Each neuron's state is read and written once per step; each spike is written out.
    counts.state_reads += spikes.numel()
    counts.state_writes += spikes.numel()
    fired = int(torch.count_nonzero(spikes))
    counts.spikes += fired
    counts.output_writes += fired
    counts.add("state_elements", spikes[0].numel())
    counts.activations += spikes.numel()
    counts.zero_activations += spikes.numel() - fired


def _count_backward(
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


def _trains(module: nn.Module) -> bool:
    """Whether any of the layer's own parameters is trained by backprop (needs a gradient)."""
    return any(p.requires_grad for p in module.parameters(recurse=False))


@contextmanager
def count_operations(model: nn.Module, training: bool = False) -> Iterator[OperationCounts]:
    """Count the operations of every ``model(x)`` call made inside the ``with`` block.

    Dense-like leaf layers (any with a 2-D ``weight``) and LIF populations are hooked. In a model
    without spiking neurons each dense output value is one activation evaluation
    (``neuron_updates``). Layers are named by their module path (``layers.0``, ``neurons.0``).

    ``training``: gradients stay enabled and the backward pass of every hooked layer is counted
    when its output's gradient arrives (``backward_macs``, ``backward_neuron_updates``); a layer
    described by ``convolutions()`` must then describe one convolution producing its output, whose
    kernel is taken as its weights. Otherwise the block runs without gradients.
    """
    result = OperationCounts()
    handles = []
    spiking = any(isinstance(m, LIF) for m in model.modules())

    def counts_for(name: str, kind: str) -> LayerCounts:
        return result.layers.setdefault(name, LayerCounts(kind))

    def model_hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        result.samples += inputs[0].shape[0]

    def convolution_backward(
        counts: LayerCounts,
        x: torch.Tensor,
        output: torch.Tensor,
        kernel: torch.Tensor,
        stride: int | tuple,
        padding: int | tuple,
        groups: int,
        trains: bool,
    ) -> None:
        existing = (kernel != 0).to(torch.float32).detach()

        def synapses(indicator: torch.Tensor) -> torch.Tensor:
            return nn.functional.conv2d(indicator, existing, None, stride, padding, 1, groups)

        _count_backward(counts, output, x, synapses, trains, kernel.numel(), not spiking)

    for name, module in model.named_modules():
        if hasattr(module, "operation_counts"):

            def own_hook(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                counts = counts_for(name, module.operation_kind)
                for key, value in module.operation_counts(inputs[0], output).items():
                    counts.add(key, value)

            handles.append(module.register_forward_hook(own_hook))
        elif isinstance(module, nn.Conv2d):

            def conv_hook(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                counts = counts_for(name, "conv")
                if module.dilation != (1, 1):
                    raise NotImplementedError("operation counts of dilated convolutions")
                weight = module.weight
                _count_conv(
                    counts, inputs[0], weight, output.numel(), module.stride, module.padding, module.groups
                )
                counts.sizes(weight.numel(), inputs[0], output)
                if not spiking:
                    counts.neuron_updates += output.numel()
                if training:
                    convolution_backward(
                        counts,
                        inputs[0],
                        output,
                        weight,
                        module.stride,
                        module.padding,
                        module.groups,
                        _trains(module),
                    )

            handles.append(module.register_forward_hook(conv_hook))
        elif hasattr(module, "convolutions"):

            def custom_hook(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                counts = counts_for(name, "conv")
                kernels = 0
                convolutions = module.convolutions(inputs[0])
                for x, kernel, stride, padding, groups, n_out in convolutions:
                    _count_conv(counts, x, kernel, n_out, stride, padding, groups)
                    kernels += kernel.numel()
                counts.sizes(kernels, inputs[0], output)
                if not spiking:
                    counts.neuron_updates += output.numel()
                if training and output.requires_grad:
                    if len(convolutions) != 1 or convolutions[0][5] != output.numel():
                        raise NotImplementedError(f"backward counts of {type(module).__name__}")
                    x, kernel, stride, padding, groups, _ = convolutions[0]
                    convolution_backward(counts, x, output, kernel, stride, padding, groups, _trains(module))

            handles.append(module.register_forward_hook(custom_hook))
        elif dense_weight(module) is not None:

            def linear_hook(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = name) -> None:
                counts = counts_for(name, "dense")
                weight = dense_weight(module)
                _count_dense(counts, inputs[0], weight)
                # Per-sample sizes as the layer is called (a layer may reduce its own outputs, as
                # the Neocognitron's top S-cells do to one value per class).
                counts.sizes(weight.numel(), inputs[0], output)
                if not spiking:
                    counts.neuron_updates += output.numel()
                if training:
                    existing = (weight != 0).to(torch.float32).detach()
                    n_in = weight.shape[1]

                    def synapses(indicator: torch.Tensor, existing: torch.Tensor = existing) -> torch.Tensor:
                        return indicator.reshape(-1, n_in) @ existing.t()

                    trains = _trains(module)
                    _count_backward(counts, output, inputs[0], synapses, trains, weight.numel(), not spiking)

            handles.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, LIF):

            def lif_hook(module: nn.Module, inputs: tuple, output: tuple, name: str = name) -> None:
                counts = counts_for(name, "lif")
                _count_neurons(counts, output[0])
                if training and output[0].requires_grad:

                    def on_gradient(gradient: torch.Tensor, counts: LayerCounts = counts) -> None:
                        counts.backward_neuron_updates += gradient.numel()

                    output[0].register_hook(on_gradient)

            handles.append(module.register_forward_hook(lif_hook))
    handles.append(model.register_forward_hook(model_hook))
    try:
        with torch.set_grad_enabled(training and torch.is_grad_enabled()):
            yield result
    finally:
        for handle in handles:
            handle.remove()


def ledger(
    model: nn.Module, x: torch.Tensor, batch_size: int = 250
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Per-layer counts per sample of ``model`` (in eval mode) on ``x``, in batches, and each layer's
    kind: ``(OperationCounts.per_sample(), {layer: kind})``."""
    model.eval()
    with count_operations(model) as counts:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    return counts.per_sample(), {name: layer.kind for name, layer in counts.layers.items()}
