"""When to evaluate (log-spaced steps over training, plus epoch ends), in which order the data
comes, and at which learning rate.

Every function here is pure in its arguments, so a fit resumed at any checkpoint continues with
the very batches and rates an uninterrupted fit would have.

Learning curves span orders of magnitude of samples seen, so checkpoints are log-spaced in the
step count; epoch ends are included so that "accuracy after one epoch" is read off the curve
directly (e.g. the one-epoch perceptron on Fashion-MNIST). Every epoch end is included up to
``2 * n_log`` epochs; beyond that (tiny labelled subsets trained for ``min_samples_seen``, where an
epoch may be one step) the epoch ends are themselves log-spaced, always with the first and last,
so that the number of evaluations stays about ``3 * n_log`` however many epochs a fit runs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neurosim.config import TrainingConfig


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Number of steps in one pass (the last batch may be smaller)."""
    return math.ceil(n_samples / batch_size)


def checkpoint_steps(n_samples: int, batch_size: int, epochs: int, n_log: int) -> list[int]:
    """Sorted unique step numbers (1-based, after that step) at which to evaluate.

    Args:
        n_samples: training-set size N.
        batch_size: samples per step B.
        epochs: passes over the data.
        n_log: number of log-spaced points between step 1 and the last step.
    """
    per_epoch = steps_per_epoch(n_samples, batch_size)
    total = per_epoch * epochs
    log_points = np.unique(np.round(np.geomspace(1, total, num=max(n_log, 2))).astype(int))
    if epochs <= 2 * n_log:
        epoch_numbers = range(1, epochs + 1)
    else:
        epoch_numbers = np.unique(np.round(np.geomspace(1, epochs, num=max(n_log, 2))).astype(int)).tolist()
    epoch_ends = [per_epoch * e for e in epoch_numbers]
    return sorted(set(log_points.tolist()) | set(epoch_ends))


def samples_seen(step: int, n_samples: int, batch_size: int) -> int:
    """Training samples presented after ``step`` steps (exact, counting short last batches)."""
    per_epoch = steps_per_epoch(n_samples, batch_size)
    full_epochs, within = divmod(step, per_epoch)
    return full_epochs * n_samples + min(within * batch_size, n_samples)


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The presentation order of epoch ``epoch``, ``[n]`` (independent of device and of resumes)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def scheduled_lr(config: TrainingConfig, step: int, total_steps: int) -> float:
    """Learning rate of step ``step`` (0-based) of ``total_steps``: constant, or cosine-annealed
    ``lr (1 + cos(pi step / total)) / 2`` (Loshchilov & Hutter 2017, without restarts)."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return config.lr
