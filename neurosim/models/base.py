"""The contract every neurosim model keeps, and its learning plan.

A model is a plain ``nn.Module`` built by a registered factory ``factory(input_shape, n_classes,
**options)``. ``forward(x) -> logits [B, C]`` (class scores; the predicted class is the argmax).
Models never move themselves between devices and keep no state across calls.

A model says *how* each of its parameter groups learns through :meth:`NeurosimModel.learning_plan`:
a tuple of :class:`PlanStep`, each binding a module's parameters to a rule from
:data:`neurosim.rules.RULES` (``backprop`` or a local rule such as ``perceptron``). Parameters in no
step are fixed (e.g. Rosenblatt's random association layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True, eq=False)
class PlanStep:
    """One parameter group and the rule that trains it.

    Attributes:
        group: name of the parameter group (unique within the model).
        module: the layer whose parameters the rule changes; local rules observe its input.
        rule: registry key of the learning rule.
    """

    group: str
    module: nn.Module
    rule: str


class NeurosimModel(nn.Module):
    """Base class: adds the learning plan, probe points and receptive-field access to nn.Module."""

    def learning_plan(self) -> tuple[PlanStep, ...]:
        """Which rule trains which parameter group."""
        raise NotImplementedError

    def probe_points(self) -> dict[str, nn.Module]:
        """Named layers whose outputs analyses may record, input side first."""
        raise NotImplementedError

    def first_layer_weights(self) -> torch.Tensor:
        """Weights from the input to the first layer's units, ``[units, D]`` (receptive fields)."""
        raise NotImplementedError

    def count_parameters(self) -> dict[str, int]:
        """Number of trainable (by any rule) and fixed parameter values."""
        trained = {id(p) for step in self.learning_plan() for p in step.module.parameters()}
        tensors = list(self.parameters()) + list(self.buffers_fixed())
        n_trained = sum(p.numel() for p in self.parameters() if id(p) in trained)
        n_fixed = sum(t.numel() for t in tensors if id(t) not in trained)
        return {"trainable": n_trained, "fixed": n_fixed}

    def buffers_fixed(self) -> list[torch.Tensor]:
        """Buffers that act as fixed weights (counted as fixed parameters); none by default."""
        return []


def flat_size(input_shape: tuple[int, ...]) -> int:
    """Number of values in one input of shape ``input_shape``."""
    size = 1
    for dim in input_shape:
        size *= int(dim)
    return size
