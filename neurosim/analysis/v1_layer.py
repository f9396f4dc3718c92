"""Which layer of a model the V1 analyses (orientation tuning, receptive fields) read, its responses,
and whether it may stand for V1 at all.

The layer: the model's first probe point that records a layer's **output** (after its
nonlinearity: what the next layer sees), i.e. the first name of
:meth:`~neurosim.models.base.NeurosimModel.probe_points` not ending in ``".pre"`` (the current
before a nonlinearity; naming in ``neurosim.probes``). Its response to an input: that output,
rectified (``max(r, 0)``; a spike count for a spiking layer, see
:func:`~neurosim.analysis.activity.record_activity`), at the centre position for a convolutional
output ``[n, C, H, W]`` (a full-field stimulus drives every position alike, up to phase).

Excluded from V1 comparisons (:func:`v1_exclusion`): a **class readout**, a layer whose units are
the classes, i.e. whose outputs are the model's own class scores (``model(x)``, ``[n, classes]``).
The perceptron's and softmax regression's only layer is such a readout: a weighted sum of pixels
per class, trained to separate the classes, with no intermediate representation that could be
likened to V1 simple cells. Its tuning is reported as excluded, with this reason, not as a
V1-likeness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from neurosim.analysis.activity import record_activity
from neurosim.errors import UserError

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

#: Suffix of a probe point that records a current before a nonlinearity (``neurosim.probes``).
CURRENT_SUFFIX = ".pre"
#: Inputs on which a layer's outputs are compared with the model's class scores.
READOUT_CHECK_INPUTS = 32


def v1_probe(model: NeurosimModel) -> str:
    """The name of the first probe point of ``model`` that records a layer's output."""
    for name in model.probe_points():
        if not name.endswith(CURRENT_SUFFIX):
            return name
    raise UserError(f"{type(model).__name__} has no probe point after a nonlinearity to analyse")


def v1_responses(model: NeurosimModel, stimuli: torch.Tensor) -> tuple[str, torch.Tensor]:
    """``(probe point, rectified responses [n, units])`` of :func:`v1_probe` to ``stimuli`` ``[n, ...]``;
    for a convolutional output ``[n, C, H, W]`` the units are the channels at the centre position."""
    name = v1_probe(model)
    activity = record_activity(model, stimuli, names=[name], flatten=False)[name]
    if activity.ndim == 4:
        _, _, height, width = activity.shape
        activity = activity[:, :, height // 2, width // 2]
    return name, activity.reshape(len(activity), -1).clamp_min(0.0)


@torch.no_grad()
def v1_exclusion(model: NeurosimModel, name: str, stimuli: torch.Tensor) -> str:
    """Why probe point ``name`` is excluded from V1 comparisons, or ``""`` when it is not: it is a
    class readout when its outputs on (the first :data:`READOUT_CHECK_INPUTS` of) ``stimuli``
    ``[n, ...]`` are the model's class scores (same shape, equal to float32 rounding)."""
    x = stimuli[:READOUT_CHECK_INPUTS]
    layer = record_activity(model, x, names=[name])[name]
    was_training = model.training
    model.eval()
    try:
        scores = model(x.to(next(model.parameters()).device)).detach().float().cpu()
    finally:
        model.train(was_training)
    scores = scores.reshape(len(scores), -1)
    if layer.shape == scores.shape and torch.allclose(layer, scores, rtol=1e-5, atol=1e-6):
        units = layer.shape[1]
        return f"class readout: the {units} units of {name!r} are the model's class scores, not a V1 analogue"
    return ""
