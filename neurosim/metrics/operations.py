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

Neuron updates (:data:`~neurosim.metrics.counts.NEURON_COUNTS`), for pricing a neuron-step by
what it is:

* ``active_neuron_updates``: neuron-steps that received input or fired (a LIF population's
  non-zero input current or spike, exact; an upper bound for a conductance simulation);
* a conductance simulation (Diehl & Cook's layer) also books ``conductance_updates``, their
  counted arithmetic ``neuron_adds`` ... ``neuron_exps`` and state accesses
  ``neuron_state_reads`` / ``neuron_state_writes``, and its protocol: ``presentations`` per image,
  ``rest_neuron_updates`` and ``repeat_neuron_updates``
  (:mod:`neurosim.metrics.neuron_operations`).

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

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from neurosim.metrics.counts import (
    COUNTS,
    MEMORY_COUNTS,
    MEMORY_SIZES,
    TRAINING_COUNTS,
    LayerCounts,
    OperationCounts,
    dense_weight,
    is_binary,
)
from neurosim.metrics.layer_counters import CountingSession, UncountableLayer, counter_for
from neurosim.neurons import LIF

__all__ = [
    "COUNTS",
    "MEMORY_COUNTS",
    "MEMORY_SIZES",
    "TRAINING_COUNTS",
    "LayerCounts",
    "OperationCounts",
    "UncountableLayer",
    "count_operations",
    "dense_weight",
    "is_binary",
    "ledger",
]


@contextmanager
def count_operations(model: nn.Module, training: bool = False) -> Iterator[OperationCounts]:
    """Count the operations of every ``model(x)`` call made inside the ``with`` block.

    Every layer a counter of :mod:`neurosim.metrics.layer_counters` claims is hooked (dense-like
    leaf layers, convolutions, LIF populations, layers that count themselves); a layer with
    parameters of its own that none claims raises :class:`UncountableLayer` before anything runs.
    In a model without spiking neurons each dense output value is one activation evaluation
    (``neuron_updates``). Layers are named by their module path (``layers.0``, ``neurons.0``).

    ``training``: gradients stay enabled and the backward pass of every hooked layer is counted
    when its output's gradient arrives (``backward_macs``, ``backward_neuron_updates``); a layer
    described by ``convolutions()`` must then describe one convolution producing its output, whose
    kernel is taken as its weights. Otherwise the block runs without gradients.
    """
    result = OperationCounts()
    session = CountingSession(result, any(isinstance(m, LIF) for m in model.modules()), training)
    counters = [(name, module, counter_for(name, module)) for name, module in model.named_modules()]
    handles = [
        module.register_forward_hook(counter.hook(session, name))
        for name, module, counter in counters
        if counter is not None
    ]

    def count_samples(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        result.samples += inputs[0].shape[0]

    handles.append(model.register_forward_hook(count_samples))
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
