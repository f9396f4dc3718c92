"""The label-assignment rule: a unit's class responses accumulated over labelled examples.

See :mod:`neurosim.models.label_assignment` for the readout (Diehl & Cook 2015, section 2.5).
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.rules.base import ONLINE_ERROR_RATE, write_delta
from neurosim.rules.layers import WEIGHTED
from neurosim.rules.registry import RULES


@RULES.register("label_assignment")
class LabelAssignmentRule:
    """Adds a batch's responses to its classes' sums; the objective is the number of the batch's
    examples the assignment so far misclassifies (before adding them)."""

    name = "label_assignment"
    layer = WEIGHTED
    objective = ONLINE_ERROR_RATE
    last_updates = 0

    @torch.no_grad()
    def write_grads(
        self, module: nn.Module, pre: torch.Tensor, target: torch.Tensor, progress: float = 0.0
    ) -> float:
        mistakes = float((module(pre).argmax(dim=1) != target).sum())
        # Each sample adds its non-zero responses (and a count) to its class's sums.
        self.last_updates = int(torch.count_nonzero(pre)) + len(pre)
        one_hot = nn.functional.one_hot(target, module.weight.shape[0]).to(pre.dtype)
        write_delta(module.weight, one_hot.T @ torch.cat([pre, torch.ones_like(pre[:, :1])], dim=1))
        return mistakes
