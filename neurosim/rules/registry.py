"""The rule registry: name -> rule class. ``backprop`` is the marker for autograd training."""

from __future__ import annotations

from neurosim.registry import Registry

RULES: Registry[type] = Registry("learning rule")
