"""Divergence: when a fit has failed as an optimisation, so that its numbers are not a result.

A fit **diverges** at the first training step where

1. the step's training objective is not finite (NaN or infinite), or
2. the mean training objective over a checkpoint interval exceeds :data:`EXPLOSION_FACTOR` times
   ``max(first, 1)``, where ``first`` is the mean objective of the first checkpoint interval (the
   objective of a freshly initialised model; for a cross-entropy over C classes about ln C), or
3. a trained parameter (or buffer) is not finite at a checkpoint, or after the unsupervised phase.

Rule 2 uses ``max(first, 1)`` so that objectives bounded by 1 (the perceptron's online error
rate) can never "explode"; a cross-entropy that reaches thousands of nats, or a power loss a
thousand times its initial value, has left any regime a learning rate is meant to reach.

A diverged fit stops training at once. It is stored with ``status = "diverged"``, the step and
the reason; its accuracies from the divergence on are NaN. Reports mark it and leave it out of
paired tests and headline tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: How far above its first checkpoint's value (or 1) a mean training objective may grow.
EXPLOSION_FACTOR = 1000.0


@dataclass(frozen=True)
class FitStatus:
    """How a fit ended: ``diverged`` at ``step`` (1-based steps taken) for ``reason``, or not."""

    diverged: bool = False
    step: int = -1
    reason: str = ""

    def as_attrs(self) -> dict[str, str | int]:
        """Attributes of the fit's Dataset."""
        return {
            "status": "diverged" if self.diverged else "finished",
            "diverged_step": self.step,
            "diverged_reason": self.reason,
        }


def nonfinite_objective(objective: float, step: int) -> FitStatus | None:
    """Rule 1: a divergence if a step's objective is NaN or infinite."""
    if math.isfinite(objective):
        return None
    return FitStatus(True, step, f"training objective became {objective}")


def exploded_objective(mean_objective: float, first: float, step: int) -> FitStatus | None:
    """Rule 2: a divergence if a checkpoint interval's mean objective exceeds the bound."""
    bound = EXPLOSION_FACTOR * max(first, 1.0)
    if not math.isfinite(mean_objective):
        return FitStatus(True, step, f"training objective became {mean_objective}")
    if mean_objective <= bound:
        return None
    return FitStatus(
        True,
        step,
        f"mean training objective {mean_objective:.3g} exceeds {EXPLOSION_FACTOR:g} x max(first value "
        f"{first:.3g}, 1)",
    )


@torch.no_grad()
def nonfinite_parameters(model: torch.nn.Module, step: int) -> FitStatus | None:
    """Rule 3: a divergence if any parameter or floating-point buffer holds NaN or infinity."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in tensors:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return FitStatus(True, step, f"{name} holds non-finite values")
    return None
