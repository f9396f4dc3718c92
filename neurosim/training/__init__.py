"""Training: the common loop for backprop and local rules, its schedule and resume."""

from neurosim.training.trainer import FitResult, History, Trainer, accuracy, predict

__all__ = ["FitResult", "History", "Trainer", "accuracy", "predict"]
