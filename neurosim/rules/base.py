"""What a learning rule is, and the one path every rule's changes take into the weights.

Backprop fills ``.grad`` through autograd. A *local* rule computes its weight change ``dw`` from
the activity it observes (the input to its layer, the layer's response, the target where the rule
is supervised) with pure functions, and writes ``-dw`` into ``.grad`` (as SpikingJelly does), so
that every rule's change is applied by an optimizer step. Clamps, schedules and normalisation can
then live in one place for all rules.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.layers import LayerNeeds

#: The supervised local rules' objective: their mistakes, counted as each sample is presented.
ONLINE_ERROR_RATE = objective(
    "online_error_rate",
    "fraction of training samples misclassified when presented (the rule learns from its mistakes)",
)


class LocalRule(Protocol):
    """A learning rule computed from locally available activity, not from a global gradient."""

    #: Registry key of the rule.
    name: str
    #: What :meth:`write_grads` reports as its per-sample objective (for the train-loss curve): a
    #: name registered with :func:`neurosim.objectives.objective` where the rule defines it.
    objective: str
    #: The layer it trains: the attributes it reads and changes, checked before training
    #: (:mod:`neurosim.rules.layers`).
    layer: LayerNeeds
    #: Plasticity updates of the last :meth:`write_grads` call: synapse changes summed over the
    #: batch's samples (a rule that sums per-sample changes does one update per synapse a sample
    #: changes), for the training operation counts (:mod:`neurosim.metrics.training`).
    last_updates: int

    def write_grads(
        self, module: nn.Module, pre: torch.Tensor, target: torch.Tensor | None, progress: float = 0.0
    ) -> float:
        """Write ``-dw`` into the ``.grad`` of ``module``'s parameters for one batch.

        Args:
            module: the layer the rule trains.
            pre: the layer's input for this batch, ``[B, D]`` (or ``[B, C, H, W]`` for a convolution).
            target: class labels, ``[B]``; ``None`` in the unsupervised phase.
            progress: fraction of the rule's training done at the start of this epoch, in [0, 1)
                (for rules with a learning-rate schedule).

        Returns:
            The batch's summed objective (e.g. the number of mistakes).
        """
        ...


def write_delta(parameter: nn.Parameter, delta: torch.Tensor) -> None:
    """Store a rule's change so that an SGD step with lr = 1 applies ``parameter += delta``."""
    grad = -delta
    parameter.grad = grad if parameter.grad is None else parameter.grad + grad
