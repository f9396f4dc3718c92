"""Surrogate-gradient spiking MLP (``snn_mlp``), the twin of an ``mlp`` of the same sizes.

Architecture (snnTorch tutorial 5, Eshraghian et al. 2023, Proc. IEEE 111:1016; default
784-1000-10, T = 25, beta = 0.95): the input is encoded over T steps (``direct``, ``rate`` or
``latency``, see :mod:`neurosim.encoders`); every layer is ``I_t = W s_{t-1 layer} + b`` feeding
LIF neurons (:mod:`neurosim.neurons.lif`), the output layer included.

Readout: ``membrane_mean`` (default), ``logits = (1/T) sum_t U_t`` of the output LIF neurons, or
``spike_count``, ``logits = sum_t S_t``; trained with cross-entropy through the surrogate
gradient, by backpropagation through time.

Speed: with ``direct`` encoding the first layer's current ``W x + b`` is the same at every step,
so it is computed once (the same numbers, T times fewer multiply-adds); with spike encoders it
is one batched product over ``[T * B, D]``. Later layers step through time, and only the
readout's running sum is kept (stacking ``[T, B, N]`` records cost a quarter of a step).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from neurosim.encoders import make_encoder
from neurosim.errors import UserError, choices_message
from neurosim.models.base import NeurosimModel, PlanStep, flat_size
from neurosim.models.registry import MODELS
from neurosim.neurons import LIF, LIFParams

READOUTS = ("membrane_mean", "spike_count")


class SpikingMLP(NeurosimModel):
    """Dense layers of LIF neurons over T steps; ``forward(x [B, ...]) -> logits [B, C]``."""

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        hidden_sizes: tuple[int, ...],
        encoder: nn.Module,
        neuron: LIFParams,
        readout: str,
    ) -> None:
        super().__init__()
        sizes = (n_inputs, *hidden_sizes, n_classes)
        self.encoder = encoder
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.neurons = nn.ModuleList(LIF(neuron) for _ in self.layers)
        self.readout = readout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        n_steps = self.encoder.n_steps
        constant = getattr(self.encoder, "is_constant_in_time", False)
        # First layer: once for a constant input, else one batched product over all T steps.
        first = self.layers[0](x) if constant else self.layers[0](self.encoder(x))
        states: list = [None] * len(self.layers)
        total = None
        for t in range(n_steps):
            signal = first if constant else first[t]  # the first layer's current, then spikes
            for index, neurons in enumerate(self.neurons):
                current = signal if index == 0 else self.layers[index](signal)
                signal, states[index] = neurons(current, states[index])
            spikes = signal
            # Only what the readout needs is kept: no [T, B, N] records are stacked.
            value = states[-1].mem if self.readout == "membrane_mean" else spikes
            total = value if total is None else total + value
        return total / n_steps if self.readout == "membrane_mean" else total

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self.layers, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        names = [f"hidden{i + 1}" for i in range(len(self.layers) - 1)] + ["output"]
        return dict(zip(names, self.neurons, strict=True))

    def first_layer_weights(self) -> torch.Tensor:
        return self.layers[0].weight.detach()


@MODELS.register("snn_mlp")
def snn_mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    hidden_sizes: list[int] | tuple[int, ...] = (1000,),
    n_steps: int = 25,
    encoder: str = "direct",
    max_rate: float = 1.0,
    beta: float = 0.95,
    threshold: float = 1.0,
    reset: str = "subtract",
    surrogate: str = "atan",
    surrogate_scale: float | None = None,
    refractory_steps: int = 0,
    readout: str = "membrane_mean",
) -> SpikingMLP:
    """Spiking MLP trained by surrogate gradients (snnTorch tutorial 5 defaults)."""
    if readout not in READOUTS:
        raise UserError(choices_message("readout", readout, READOUTS))
    sizes = tuple(int(h) for h in hidden_sizes)
    if not sizes or any(h < 1 for h in sizes):
        raise UserError(f"snn_mlp hidden_sizes must be non-empty positive ints, got {hidden_sizes!r}")
    encoder_options = {"max_rate": max_rate} if encoder == "rate" else {}
    # The encoder's own generator is seeded from the (seeded) global generator at construction.
    encoder_seed = int(torch.randint(0, 2**62, (1,)))
    neuron = LIFParams(beta, threshold, reset, surrogate, surrogate_scale, refractory_steps)
    return SpikingMLP(
        flat_size(input_shape),
        n_classes,
        sizes,
        make_encoder(encoder, n_steps, encoder_seed, **encoder_options),
        neuron,
        readout,
    )
