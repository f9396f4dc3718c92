"""Models, conventional and biologically inspired, side by side.

Importing this package registers every model in :data:`MODELS`.
"""

from neurosim.models import (  # noqa: F401  (registration)
    cnn,
    diehl_cook,
    feedforward,
    kmeans,
    krotov,
    lenet,
    neocognitron,
    neocognitron_controls,
    perceptron,
    rosenblatt,
    snn,
    softhebb,
    unsupervised_controls,
)
from neurosim.models.base import NeurosimModel, PlanStep
from neurosim.models.registry import MODELS

__all__ = ["MODELS", "NeurosimModel", "PlanStep"]
