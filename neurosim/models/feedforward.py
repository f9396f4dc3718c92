"""Conventional twins trained by backprop: softmax regression (``linear``) and the ``mlp``.

``linear``: ``logits = W x + b`` trained by minimising the cross-entropy of ``softmax(logits)``
(multinomial logistic regression); the same form and parameter count as the perceptron, so the
``perceptron_linear`` pair differs only in the learning rule.

``mlp``: ``h_1 = f(W_1 x + b_1), ..., logits = W_L h_{L-1} + b_L`` with ``f`` one of relu, tanh,
sigmoid (Rumelhart, Hinton & Williams 1986), cross-entropy loss, all weights by backprop. Layers
use PyTorch's default initialisation (Kaiming-uniform weights, He et al. 2015).
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import nn

from neurosim.errors import UserError, choices_message
from neurosim.models.base import NeurosimModel, PlanStep, Probe, flat_size
from neurosim.models.registry import MODELS, ModelCard
from neurosim.options import Widths
from neurosim.probes import current

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class FeedForward(NeurosimModel):
    """A stack of dense layers; ``hidden_sizes == ()`` is softmax regression."""

    def __init__(self, n_inputs: int, n_classes: int, hidden_sizes: tuple[int, ...], activation: str) -> None:
        super().__init__()
        sizes = (n_inputs, *hidden_sizes, n_classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        self.activation = ACTIVATIONS[activation]()
        # One probe per hidden layer: the activation module is shared, so its hook cannot tell
        # the layers apart.
        self.outputs = nn.ModuleList(Probe() for _ in hidden_sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer, output in zip(self.layers[:-1], self.outputs, strict=True):
            h = output(self.activation(layer(h)))
        return self.layers[-1](h)

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self.layers, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        """``hidden<i>.pre`` (``W_i h + b_i``), ``hidden<i>`` (after the activation), ..., ``output``."""
        points: dict[str, nn.Module] = {}
        for i, (layer, output) in enumerate(zip(self.layers[:-1], self.outputs, strict=True)):
            points |= {current(f"hidden{i + 1}"): layer, f"hidden{i + 1}": output}
        return points | {"output": self.layers[-1]}

    def first_layer_weights(self) -> torch.Tensor:
        return self.layers[0].weight.detach()


@MODELS.register("linear", ModelCard(family="conventional", paper="", bio=False))
def linear(input_shape: tuple[int, ...], n_classes: int) -> FeedForward:
    """Softmax regression trained by backprop (cross-entropy)."""
    return FeedForward(flat_size(input_shape), n_classes, (), "relu")


@MODELS.register(
    "mlp",
    ModelCard(family="conventional", paper="Rumelhart, Hinton & Williams 1986, Nature 323:533", bio=False),
)
def mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    hidden_sizes: Widths = (128,),
    activation: Literal["relu", "tanh", "sigmoid"] = "relu",
) -> FeedForward:
    """Multi-layer perceptron trained by backprop; ``hidden_sizes`` lists the hidden widths."""
    if activation not in ACTIVATIONS:
        raise UserError(choices_message("activation", activation, sorted(ACTIVATIONS)))
    sizes = tuple(int(h) for h in hidden_sizes)
    if not sizes or any(h < 1 for h in sizes):
        raise UserError(f"mlp hidden_sizes must be a non-empty list of positive ints, got {hidden_sizes!r}")
    return FeedForward(flat_size(input_shape), n_classes, sizes, activation)
