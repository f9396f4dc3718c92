"""Surrogate-gradient spiking networks: ``snn_mlp`` (twin: ``mlp``) and ``snn_cnn`` (twin: ``cnn``).

Architecture (snnTorch tutorial 5, Eshraghian et al. 2023, Proc. IEEE 111:1016; default
784-1000-10, T = 25, beta = 0.95): the input is encoded over T steps (``direct``, ``rate`` or
``latency``, see :mod:`neurosim.encoders`); every layer is ``I_t = W s_{t-1 layer} + b`` feeding
LIF neurons (:mod:`neurosim.neurons.lif`), the output layer included.

Readout: ``membrane_mean`` (default), ``logits = (1/T) sum_t U_t`` of the output LIF neurons, or
``spike_count``, ``logits = sum_t S_t``; trained with cross-entropy through the surrogate
gradient, by backpropagation through time. ``membrane_per_step`` is tutorial 5's own objective:
the loss is ``sum_t CE(U_t, y)`` (one cross-entropy per step, summed, each averaged over the
batch) and the prediction is the spike count ``argmax_c sum_t S_t``; in training mode its forward
returns the per-step membranes ``[B, C, T]`` for that loss, in eval mode the spike counts.

Speed: with ``direct`` encoding the first layer's current ``W x + b`` is the same at every step,
so it is computed once (the same numbers, T times fewer multiply-adds); with spike encoders it
is one batched product over ``[T * B, D]``. Later layers step through time, and only the
readout's running sum is kept (stacking ``[T, B, N]`` records cost a quarter of a step).
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import nn

from neurosim.encoders import make_encoder
from neurosim.errors import UserError, choices_message
from neurosim.models.base import NeurosimModel, PlanStep, flat_size
from neurosim.models.cnn import conv_stack
from neurosim.models.registry import MODELS, ModelCard
from neurosim.neurons import LIF, LIFParams, LIFState
from neurosim.objectives import CROSS_ENTROPY, objective
from neurosim.options import (
    Fraction,
    KernelSize,
    NonNegativeFloat,
    NonNegativeInt,
    Padding,
    PositiveFloat,
    TimeSteps,
    Widths,
)

READOUTS = ("membrane_mean", "spike_count", "membrane_per_step")
Readout = Literal["membrane_mean", "spike_count", "membrane_per_step"]


#: snnTorch tutorial 5's loss (the readout ``membrane_per_step``).
PER_STEP_CROSS_ENTROPY = objective(
    "per_step_cross_entropy", "mean over samples of sum_t CE(U_t) over the time steps (snnTorch tutorial 5)"
)


class SpikingNetwork(NeurosimModel):
    """What the spiking models share: the readout, accumulated step by step (no records kept)."""

    readout: str

    @property
    def loss_name(self) -> str:  # type: ignore[override]
        """The objective's name in results: tutorial 5's per-step loss, or cross-entropy."""
        return PER_STEP_CROSS_ENTROPY if self.readout == "membrane_per_step" else CROSS_ENTROPY

    def _per_step(self) -> bool:
        """Whether this forward pass returns tutorial 5's per-step membranes (training only)."""
        return self.readout == "membrane_per_step" and self.training

    def _accumulate(
        self, total: torch.Tensor | list | None, output_state: LIFState, spikes: torch.Tensor
    ) -> torch.Tensor | list:
        """Add this step's readout value (output membrane or output spikes) to the running total;
        for the per-step loss, append the membrane to the list of steps."""
        if self._per_step():
            steps = [] if total is None else total
            steps.append(output_state.mem)
            return steps
        value = output_state.mem if self.readout == "membrane_mean" else spikes
        return value if total is None else total + value

    def _logits(self, total: torch.Tensor | list, n_steps: int) -> torch.Tensor:
        """Mean membrane over the steps, the spike count, or the per-step membranes [B, C, T]."""
        if isinstance(total, list):
            return torch.stack(total, dim=-1)
        return total / n_steps if self.readout == "membrane_mean" else total

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy; for per-step membranes ``[B, C, T]``, ``sum_t CE(U_t, y)`` (tutorial 5)."""
        if logits.dim() == 3:
            per_step = target[:, None].expand(-1, logits.shape[-1])
            return nn.functional.cross_entropy(logits, per_step) * logits.shape[-1]
        return nn.functional.cross_entropy(logits, target)


def spiking_parts(
    n_steps: int, encoder: str, max_rate: float, readout: str, **neuron: object
) -> tuple[nn.Module, LIFParams]:
    """Validate the readout; build the encoder and the LIF parameters from factory options.

    The encoder's generator is seeded from torch's global generator, which the runner seeds per
    model, so this draws one number from it: call it where the factory always has.
    """
    if readout not in READOUTS:
        raise UserError(choices_message("readout", readout, READOUTS))
    encoder_options = {"max_rate": max_rate} if encoder == "rate" else {}
    encoder_seed = int(torch.randint(0, 2**62, (1,)))
    return make_encoder(encoder, n_steps, encoder_seed, **encoder_options), LIFParams(**neuron)


class SpikingMLP(SpikingNetwork):
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
            # Only what the readout needs is kept: no [T, B, N] records are stacked.
            total = self._accumulate(total, states[-1], signal)
        return self._logits(total, n_steps)

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self.layers, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        names = [f"hidden{i + 1}" for i in range(len(self.layers) - 1)] + ["output"]
        return dict(zip(names, self.neurons, strict=True))

    def first_layer_weights(self) -> torch.Tensor:
        return self.layers[0].weight.detach()


@MODELS.register(
    "snn_mlp",
    ModelCard(
        family="spiking",
        paper="Eshraghian et al. 2023, Proc. IEEE 111:1016 (snnTorch tutorial 5)",
        bio=True,
        input_note="flattened, encoded over n_steps time steps",
    ),
)
def snn_mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    hidden_sizes: Widths = (1000,),
    n_steps: TimeSteps = 25,
    encoder: str = "direct",
    max_rate: NonNegativeFloat = 1.0,
    beta: Fraction = 0.95,
    threshold: PositiveFloat = 1.0,
    reset: Literal["subtract", "zero"] = "subtract",
    surrogate: str = "atan",
    surrogate_scale: PositiveFloat | None = None,
    refractory_steps: NonNegativeInt = 0,
    readout: Readout = "membrane_mean",
) -> SpikingMLP:
    """Spiking MLP trained by surrogate gradients (snnTorch tutorial 5 defaults)."""
    sizes = tuple(int(h) for h in hidden_sizes)
    if not sizes or any(h < 1 for h in sizes):
        raise UserError(f"snn_mlp hidden_sizes must be non-empty positive ints, got {hidden_sizes!r}")
    spike_encoder, neuron = spiking_parts(
        n_steps,
        encoder,
        max_rate,
        readout,
        beta=beta,
        threshold=threshold,
        reset=reset,
        surrogate=surrogate,
        surrogate_scale=surrogate_scale,
        refractory_steps=refractory_steps,
    )
    return SpikingMLP(flat_size(input_shape), n_classes, sizes, spike_encoder, neuron, readout)


class SpikingCNN(SpikingNetwork):
    """The ``cnn`` layers with LIF neurons after each pooled convolution and at the output.

    Per step (snnTorch tutorial 6): ``I1 = pool(conv1(x_t))``, ``S1 = LIF(I1)``,
    ``I2 = pool(conv2(S1))``, ``S2 = LIF(I2)``, ``I3 = fc(S2)``, ``S3 = LIF(I3)``. With direct
    encoding ``I1`` is the same at every step and is computed once.
    """

    def __init__(self, stack: nn.Module, encoder: nn.Module, neuron: LIFParams, readout: str) -> None:
        super().__init__()
        self.stack = stack
        self.encoder = encoder
        self.neurons = nn.ModuleList(LIF(neuron) for _ in range(3))
        self.readout = readout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_steps = self.encoder.n_steps
        constant = getattr(self.encoder, "is_constant_in_time", False)
        pool = nn.functional.max_pool2d
        if constant:
            first = pool(self.stack.conv1(x), 2)
        else:
            encoded = self.encoder(x)
            first = pool(self.stack.conv1(encoded.flatten(0, 1)), 2).unflatten(0, encoded.shape[:2])
        states: list = [None, None, None]
        total = None
        for t in range(n_steps):
            spikes, states[0] = self.neurons[0](first if constant else first[t], states[0])
            spikes, states[1] = self.neurons[1](pool(self.stack.conv2(spikes), 2), states[1])
            spikes, states[2] = self.neurons[2](self.stack.fc(spikes.flatten(1)), states[2])
            total = self._accumulate(total, states[2], spikes)
        return self._logits(total, n_steps)

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self.stack, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        return dict(zip(("conv1", "conv2", "output"), self.neurons, strict=True))

    def first_layer_weights(self) -> torch.Tensor:
        return self.stack.conv1.weight.detach().flatten(1)


@MODELS.register(
    "snn_cnn",
    ModelCard(
        family="spiking",
        paper="Eshraghian et al. 2023, Proc. IEEE 111:1016 (snnTorch tutorial 6)",
        bio=True,
        image_input=True,
        min_image_side=16,
        small_image_options={"padding": 2},
        input_note="encoded over n_steps time steps, convolved as given",
        receptive_field="kernel",
    ),
)
def snn_cnn(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: Widths = (12, 64),
    kernel_size: KernelSize = 5,
    padding: Padding = 0,
    n_steps: TimeSteps = 25,
    encoder: str = "direct",
    max_rate: NonNegativeFloat = 1.0,
    beta: Fraction = 0.5,
    threshold: PositiveFloat = 1.0,
    reset: Literal["subtract", "zero"] = "subtract",
    surrogate: str = "fast_sigmoid",
    surrogate_scale: PositiveFloat | None = 25.0,
    refractory_steps: NonNegativeInt = 0,
    readout: Readout = "spike_count",
) -> SpikingCNN:
    """Convolutional SNN of snnTorch tutorial 6 (beta 0.5, fast sigmoid 25, spike-count readout)."""
    stack = conv_stack(input_shape, n_classes, channels, kernel_size, padding)
    spike_encoder, neuron = spiking_parts(
        n_steps,
        encoder,
        max_rate,
        readout,
        beta=beta,
        threshold=threshold,
        reset=reset,
        surrogate=surrogate,
        surrogate_scale=surrogate_scale,
        refractory_steps=refractory_steps,
    )
    return SpikingCNN(stack, spike_encoder, neuron, readout)
