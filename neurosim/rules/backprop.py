"""Backpropagation (Rumelhart, Hinton & Williams 1986): gradients of the cross-entropy by autograd.

It has no delta function of its own: the trainer calls ``loss.backward()`` for every parameter
group bound to ``backprop`` and steps those groups with the configured optimizer (Adam or SGD).
"""

from __future__ import annotations

from neurosim.objectives import CROSS_ENTROPY
from neurosim.rules.registry import RULES


@RULES.register("backprop")
class Backprop:
    """Marker rule: the parameter group is trained end to end by autograd."""

    name = "backprop"
    objective = CROSS_ENTROPY
