"""Training: the common loop for backprop and local rules, its phases, schedule, checkpoints and
observers (evaluation of a model: :mod:`neurosim.evaluation`)."""

from neurosim.results.history import History
from neurosim.training.callbacks import TrainingCallback
from neurosim.training.trainer import FitResult, Trainer

__all__ = ["FitResult", "History", "Trainer", "TrainingCallback"]
