"""Evaluating a model: predictions and accuracy over a dataset in batches, in eval mode and without
gradients. Shared by the trainer (checkpoints, the final test) and the analyses of stored runs,
which need nothing else of training."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the type only: the analyses of stored results import this without model code
    from neurosim.models.base import NeurosimModel

#: Images per forward call when evaluating (memory, not results: each image's output is its own).
EVAL_BATCH = 4096


@torch.no_grad()
def in_eval_batches(model: NeurosimModel, function: Callable, x: torch.Tensor) -> torch.Tensor:
    """``function`` over ``x`` ``[N, ...]`` in batches, with ``model`` in eval mode and no gradients;
    the results are concatenated along dim 0 and the model's mode is restored."""
    was_training = model.training
    model.eval()
    out = torch.cat([function(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])
    model.train(was_training)
    return out


def predict(model: NeurosimModel, x: torch.Tensor, forward: Callable | None = None) -> torch.Tensor:
    """Predicted classes for ``x`` ``[N, ...]`` in eval mode; returns ``[N]``.

    ``forward`` replaces ``model`` as the function of ``x`` (e.g. a head on stored features).
    """
    forward = forward or model
    return in_eval_batches(model, lambda batch: forward(batch).argmax(dim=1), x)


def accuracy(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, forward: Callable | None = None
) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float((predict(model, x, forward) == y).float().mean())
