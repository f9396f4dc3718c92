"""The model registry: name -> factory ``(input_shape, n_classes, **options) -> NeurosimModel``."""

from __future__ import annotations

from collections.abc import Callable

from neurosim.models.base import NeurosimModel
from neurosim.registry import Registry

MODELS: Registry[Callable[..., NeurosimModel]] = Registry("model")
