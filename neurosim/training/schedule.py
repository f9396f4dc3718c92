"""When to evaluate: log-spaced steps over training, plus every epoch's end.

Learning curves span orders of magnitude of samples seen, so checkpoints are log-spaced in the
step count; epoch ends are always included so that "accuracy after one epoch" is read off the
curve directly (e.g. the one-epoch perceptron on Fashion-MNIST).
"""

from __future__ import annotations

import math

import numpy as np


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
    epoch_ends = [per_epoch * (e + 1) for e in range(epochs)]
    return sorted(set(log_points.tolist()) | set(epoch_ends))


def samples_seen(step: int, n_samples: int, batch_size: int) -> int:
    """Training samples presented after ``step`` steps (exact, counting short last batches)."""
    per_epoch = steps_per_epoch(n_samples, batch_size)
    full_epochs, within = divmod(step, per_epoch)
    return full_epochs * n_samples + min(within * batch_size, n_samples)
