"""The conventional CNN twin: two convolutions with max-pooling and a dense readout, by backprop.

Architecture (the network of snnTorch tutorial 6, Eshraghian et al. 2023, Proc. IEEE 111:1016;
"12C5-MP2-64C5-MP2-1024FC10" for 28x28 inputs)::

    conv(1 -> c1, k x k) -> max-pool 2 -> ReLU -> conv(c1 -> c2, k x k) -> max-pool 2 -> ReLU
    -> flatten -> dense -> C logits

with ``c1 = 12``, ``c2 = 64``, ``k = 5``, no padding (28 -> 24 -> 12 -> 8 -> 4, so 64 x 4 x 4 =
1024 features). ``padding`` is a parameter so small inputs fit (``padding = 2`` keeps the size
through each convolution: 8x8 digits -> 4 -> 2). Cross-entropy loss, PyTorch default initialisation.
The spiking twin ``snn_cnn`` (:mod:`neurosim.models.snn`) has the same layers with LIF neurons in
place of the ReLUs.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep, Probe
from neurosim.models.registry import MODELS, ModelCard
from neurosim.options import KernelSize, Padding, Widths
from neurosim.probes import current


class ConvStack(nn.Module):
    """The two convolutions and the dense readout (no non-linearity: the models add theirs)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        channels: tuple[int, int],
        kernel_size: int,
        padding: int,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise UserError(
                f"convolutional models need image inputs [C, H, W], got input shape {input_shape}"
            )
        in_channels, height, width = input_shape
        size = [height, width]
        for _ in range(2):
            size = [(s + 2 * padding - kernel_size + 1) // 2 for s in size]
        if min(size) < 1:
            raise UserError(
                f"input {height}x{width} is too small for two {kernel_size}x{kernel_size} convolutions with "
                f"padding {padding} and 2x2 pooling; use padding={kernel_size // 2}"
            )
        self.conv1 = nn.Conv2d(in_channels, channels[0], kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_size, padding=padding)
        self.fc = nn.Linear(channels[1] * size[0] * size[1], n_classes)


class CNN(NeurosimModel):
    """conv -> pool -> ReLU, twice, then a dense readout."""

    def __init__(self, stack: ConvStack) -> None:
        super().__init__()
        self.stack = stack
        # Probe points of each block's output (after its pooling and ReLU).
        self.block_outputs = nn.ModuleList([Probe(), Probe()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block_outputs[0](torch.relu(nn.functional.max_pool2d(self.stack.conv1(x), 2)))
        h = self.block_outputs[1](torch.relu(nn.functional.max_pool2d(self.stack.conv2(h), 2)))
        return self.stack.fc(h.flatten(1))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self.stack, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        """Per block ``conv<i>.pre`` (the convolution's output) and ``conv<i>`` (after pooling and
        ReLU: what the next layer sees), then ``output``."""
        return {
            current("conv1"): self.stack.conv1,
            "conv1": self.block_outputs[0],
            current("conv2"): self.stack.conv2,
            "conv2": self.block_outputs[1],
            "output": self.stack.fc,
        }

    def first_layer_weights(self) -> torch.Tensor:
        return self.stack.conv1.weight.detach().flatten(1)


def conv_stack(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: list[int] | tuple[int, ...],
    kernel_size: int,
    padding: int,
) -> ConvStack:
    """Validated :class:`ConvStack` from factory options."""
    if len(channels) != 2 or any(int(c) < 1 for c in channels):
        raise UserError(f"channels must be two positive ints, got {channels!r}")
    return ConvStack(
        input_shape, n_classes, (int(channels[0]), int(channels[1])), int(kernel_size), int(padding)
    )


@MODELS.register(
    "cnn",
    ModelCard(
        family="conventional",
        paper="Eshraghian et al. 2023, Proc. IEEE 111:1016 (snnTorch tutorial 6)",
        bio=False,
        image_input=True,
        min_image_side=16,
        small_image_options={"padding": 2},
        input_note="convolved as given",
        receptive_field="kernel",
    ),
)
def cnn(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: Widths = (12, 64),
    kernel_size: KernelSize = 5,
    padding: Padding = 0,
) -> CNN:
    """Two-convolution CNN (snnTorch tutorial 6 sizes) trained by backprop."""
    return CNN(conv_stack(input_shape, n_classes, channels, kernel_size, padding))
