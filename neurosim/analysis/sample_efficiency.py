"""Summaries of a learning curve over labels per class (sample efficiency).

A curve is test accuracy ``a_i`` at labels per class ``n_1 < n_2 < ... < n_L``; the last point is
the model's *full-data* accuracy (a sweep's ``task.n_per_class = "all"`` is stored as the training
set's size per class, so it is the largest value). Two numbers summarise it:

* :func:`labels_to_reach`: the labels per class at which the curve first reaches ``fraction``
  (default 0.9) of the full-data accuracy, interpolated linearly in ``log n`` between the two grid
  points around the crossing (``n_1`` if the first point already reaches it). Fewer is more
  sample-efficient; the result is only as fine as the grid near the crossing.
* :func:`normalised_auc`: the area under the curve against ``log10 n``, divided by the width of the
  ``log10 n`` range, i.e. the curve's mean accuracy on a logarithmic label axis (in [0, 1]).
  Higher is more sample-efficient; both members of a pair must share the grid to compare it.
"""

from __future__ import annotations

import numpy as np


def _checked(labels: np.ndarray, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, accuracy = np.asarray(labels, dtype=float), np.asarray(accuracy, dtype=float)
    if labels.ndim != 1 or labels.shape != accuracy.shape or len(labels) < 2:
        raise ValueError("labels and accuracy must be 1-D of the same length >= 2")
    if np.any(np.diff(labels) <= 0) or labels[0] <= 0:
        raise ValueError(f"labels per class must be positive and increasing, got {labels.tolist()}")
    return labels, accuracy


def labels_to_reach(labels: np.ndarray, accuracy: np.ndarray, fraction: float = 0.9) -> float:
    """Labels per class at which ``accuracy`` first reaches ``fraction`` of its last value (NaN if
    the curve has a NaN)."""
    labels, accuracy = _checked(labels, accuracy)
    if np.isnan(accuracy).any():
        return float("nan")
    target = fraction * accuracy[-1]
    reached = np.flatnonzero(accuracy >= target)
    first = int(reached[0])  # the last point always reaches it
    if first == 0:
        return float(labels[0])
    low, high = first - 1, first
    step = (target - accuracy[low]) / (accuracy[high] - accuracy[low])
    log_n = np.log10(labels[low]) + step * (np.log10(labels[high]) - np.log10(labels[low]))
    return float(10**log_n)


def normalised_auc(labels: np.ndarray, accuracy: np.ndarray) -> float:
    """Mean accuracy over ``log10`` labels per class (trapezoids), in [0, 1] for accuracies in it."""
    labels, accuracy = _checked(labels, accuracy)
    log_n = np.log10(labels)
    area = np.sum((accuracy[1:] + accuracy[:-1]) / 2 * np.diff(log_n))
    return float(area / (log_n[-1] - log_n[0]))
