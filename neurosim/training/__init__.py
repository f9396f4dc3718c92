"""Training: the common loop for backprop and local rules, its schedule and resume (evaluation of a
model: :mod:`neurosim.evaluation`)."""

from neurosim.training.callbacks import TrainingCallback
from neurosim.training.trainer import FitResult, History, Trainer

__all__ = ["FitResult", "History", "Trainer", "TrainingCallback"]
