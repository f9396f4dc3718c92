"""Which layers are counted, and how: a registry of layer counters, the first that claims a layer
counts it.

:func:`neurosim.metrics.operations.count_operations` asks :func:`counter_for` for every module of
a model and hooks the layers a counter claims. A module with parameters of its own that no counter
claims raises :class:`UncountableLayer` before anything runs: a new kind of layer must say how its
work is counted, or every energy figure of its model would silently leave it out.

The shipped counters, in the order they are asked:

=========================  ==================================================================
``self_counted``           a layer with ``operation_counts(input, output)`` and
                           ``operation_kind`` (Diehl & Cook's spiking layer, label assignment);
                           a conductance simulation also books its neurons' counted
                           arithmetic and activity (:mod:`~neurosim.metrics.neuron_operations`)
``conv2d``                 ``nn.Conv2d`` (dilation 1)
``described_convolutions`` a layer with ``convolutions(x)`` describing the functional
                           convolutions of one call (the Neocognitron's cells, LeNet-5's C3)
``dense``                  a leaf layer with a 2-D ``[out, in]`` weight (``nn.Linear``,
                           perceptron units, fixed association layers)
``lif``                    :class:`~neurosim.neurons.LIF` populations (state updates, spikes)
=========================  ==================================================================

A layer type from elsewhere (a library's module) gets a counter with :func:`register_counter`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from neurosim.metrics.counts import (
    LayerCounts,
    OperationCounts,
    count_backward,
    count_conv,
    count_dense,
    count_neurons,
    dense_weight,
)
from neurosim.metrics.neuron_operations import SimulatesConductanceNeurons, conductance_counts
from neurosim.neurons import LIF

#: A forward hook: ``hook(module, inputs, output)``.
Hook = Callable[[nn.Module, tuple, Any], None]


class UncountableLayer(TypeError):
    """A layer with parameters of its own that no registered counter claims."""


@runtime_checkable
class SelfCounted(Protocol):
    """A layer that counts its own work (a spiking layer that simulates time steps, a label
    assignment): ``operation_counts(input, output)`` of one call, by
    :class:`~neurosim.metrics.counts.LayerCounts` key, and the ``operation_kind`` it books."""

    operation_kind: str

    def operation_counts(self, x: torch.Tensor, output: Any) -> dict[str, float]: ...


@runtime_checkable
class SimulatesLearning(Protocol):
    """A layer whose rule simulates the layer itself while it learns (Diehl & Cook's presentation
    with plasticity): ``learning_operation_counts()`` is that simulation's work, by
    :class:`~neurosim.metrics.counts.LayerCounts` key, for the training ledger."""

    operation_kind: str

    def learning_operation_counts(self) -> dict[str, float]: ...


@runtime_checkable
class DescribedConvolutions(Protocol):
    """A layer made of functional convolutions (the Neocognitron's cells, LeNet-5's C3) that
    describes those of one call: ``convolutions(x)`` as ``(kernel, stride, padding, groups,
    trains)`` tuples."""

    def convolutions(self, x: torch.Tensor) -> list[tuple]: ...


@dataclass
class CountingSession:
    """What the hooks of one ``count_operations`` block share: the totals they add to, whether
    the model has spiking neurons (then dense layers count no activation evaluations; the neurons
    count their updates) and whether the backward pass is counted too."""

    result: OperationCounts
    spiking: bool
    training: bool

    def counts_for(self, name: str, kind: str) -> LayerCounts:
        """The running totals of the layer called ``name`` (created on its first call)."""
        return self.result.layers.setdefault(name, LayerCounts(kind))


@dataclass(frozen=True)
class LayerCounter:
    """A kind of layer: ``claims(module)`` says whether a module is one, ``hook(session, name)``
    makes the forward hook that books each call of the layer called ``name``."""

    name: str
    claims: Callable[[nn.Module], bool]
    hook: Callable[[CountingSession, str], Hook]


def trains(module: nn.Module) -> bool:
    """Whether any of the layer's own parameters is trained by backprop (needs a gradient)."""
    return any(p.requires_grad for p in module.parameters(recurse=False))


def _convolution_backward(
    session: CountingSession, counts: LayerCounts, x: torch.Tensor, output: torch.Tensor, conv: tuple
) -> None:
    """Book the backward pass of one convolution ``conv = (kernel, stride, padding, groups,
    trains)`` producing ``output`` from ``x``."""
    kernel, stride, padding, groups, trained = conv
    existing = (kernel != 0).to(torch.float32).detach()

    def synapses(indicator: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(indicator, existing, None, stride, padding, 1, groups)

    count_backward(counts, output, x, synapses, trained, kernel.numel(), not session.spiking)


def _self_counted(session: CountingSession, name: str) -> Hook:
    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        counts = session.counts_for(name, module.operation_kind)
        for key, value in module.operation_counts(inputs[0], output).items():
            counts.add(key, value)
        if isinstance(module, SimulatesConductanceNeurons):
            book_conductance_neurons(counts, module, len(inputs[0]), learning=False)

    return hook


def book_conductance_neurons(
    counts: LayerCounts, module: SimulatesConductanceNeurons, images: int, learning: bool
) -> None:
    """Add the counted arithmetic, active neuron-steps and protocol of the layer's last simulation
    of ``images`` images (:func:`~neurosim.metrics.neuron_operations.conductance_counts`)."""
    stats = module.last_stats
    for key, value in conductance_counts(stats, module.n_neurons, images, module.params, learning).items():
        counts.add(key, value)


def _conv2d(session: CountingSession, name: str) -> Hook:
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counts = session.counts_for(name, "conv")
        if module.dilation != (1, 1):
            raise NotImplementedError("operation counts of dilated convolutions")
        weight = module.weight
        count_conv(counts, inputs[0], weight, output.numel(), module.stride, module.padding, module.groups)
        counts.sizes(weight.numel(), inputs[0], output)
        if not session.spiking:
            counts.neuron_updates += output.numel()
        if session.training:
            conv = (weight, module.stride, module.padding, module.groups, trains(module))
            _convolution_backward(session, counts, inputs[0], output, conv)

    return hook


def _described_convolutions(session: CountingSession, name: str) -> Hook:
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counts = session.counts_for(name, "conv")
        kernels = 0
        convolutions = module.convolutions(inputs[0])
        for x, kernel, stride, padding, groups, n_out in convolutions:
            count_conv(counts, x, kernel, n_out, stride, padding, groups)
            kernels += kernel.numel()
        counts.sizes(kernels, inputs[0], output)
        if not session.spiking:
            counts.neuron_updates += output.numel()
        if session.training and output.requires_grad:
            if len(convolutions) != 1 or convolutions[0][5] != output.numel():
                raise NotImplementedError(f"backward counts of {type(module).__name__}")
            x, kernel, stride, padding, groups, _ = convolutions[0]
            conv = (kernel, stride, padding, groups, trains(module))
            _convolution_backward(session, counts, x, output, conv)

    return hook


def _dense(session: CountingSession, name: str) -> Hook:
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counts = session.counts_for(name, "dense")
        weight = dense_weight(module)
        count_dense(counts, inputs[0], weight)
        # Per-sample sizes as the layer is called (a layer may reduce its own outputs, as the
        # Neocognitron's top S-cells do to one value per class).
        counts.sizes(weight.numel(), inputs[0], output)
        if not session.spiking:
            counts.neuron_updates += output.numel()
        if session.training:
            existing = (weight != 0).to(torch.float32).detach()
            n_in = weight.shape[1]

            def synapses(indicator: torch.Tensor) -> torch.Tensor:
                return indicator.reshape(-1, n_in) @ existing.t()

            derivatives = not session.spiking
            count_backward(counts, output, inputs[0], synapses, trains(module), weight.numel(), derivatives)

    return hook


def _lif(session: CountingSession, name: str) -> Hook:
    def hook(module: nn.Module, inputs: tuple, output: tuple) -> None:
        counts = session.counts_for(name, "lif")
        count_neurons(counts, output[0], inputs[0])
        if session.training and output[0].requires_grad:

            def on_gradient(gradient: torch.Tensor) -> None:
                counts.backward_neuron_updates += gradient.numel()

            output[0].register_hook(on_gradient)

    return hook


COUNTERS: list[LayerCounter] = [
    LayerCounter("self_counted", lambda m: isinstance(m, SelfCounted), _self_counted),
    LayerCounter("conv2d", lambda m: isinstance(m, nn.Conv2d), _conv2d),
    LayerCounter(
        "described_convolutions", lambda m: isinstance(m, DescribedConvolutions), _described_convolutions
    ),
    LayerCounter("dense", lambda m: dense_weight(m) is not None, _dense),
    LayerCounter("lif", lambda m: isinstance(m, LIF), _lif),
]


def register_counter(counter: LayerCounter) -> None:
    """Ask ``counter`` first from now on (before the shipped counters); names must differ."""
    if any(existing.name == counter.name for existing in COUNTERS):
        raise ValueError(f"layer counter {counter.name!r} is already registered")
    COUNTERS.insert(0, counter)


def counter_for(name: str, module: nn.Module) -> LayerCounter | None:
    """The first counter that claims ``module``; ``None`` for a module without parameters of its
    own that none claims (containers, activations, pooling); :class:`UncountableLayer` for a
    module with parameters of its own that none claims."""
    for counter in COUNTERS:
        if counter.claims(module):
            return counter
    if any(True for _ in module.parameters(recurse=False)):
        raise UncountableLayer(
            f"layer {name!r} ({type(module).__name__}) has parameters but no operation counter: give "
            "it operation_counts()/operation_kind, or register a LayerCounter "
            "(neurosim.metrics.layer_counters)"
        )
    return None
