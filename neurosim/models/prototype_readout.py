"""A nearest-class-mean readout: the class whose mean training feature is nearest.

For features ``f`` ``[B, F]`` and the class means ``m_c = S_c / n_c`` learnt by the rule
``class_means`` (:mod:`neurosim.rules.class_means`: per class, the sum ``S_c`` and count ``n_c``
of its labelled examples' features, one pass), the class scores are::

    cosine:     s_c = <f / ||f||, m_c / ||m_c||>        (features scaled to unit length first)
    euclidean:  s_c = -||f - m_c||^2

and the answer is ``argmax_c s_c``. A class with no example yet scores 1 below the lowest score
of the classes that have one (finite, so losses and attacks on the scores stay defined). This is
scikit-learn's ``NearestCentroid`` (Euclidean), or its cosine form; it is written here rather
than taken from scikit-learn so that it trains in the same harness, batches and device as every
readout, and is stored with the model.

Shapes: input ``[B, ...]`` (flattened to ``F``); output ``[B, C]``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.rules import class_means as _class_means  # noqa: F401  (registers class_means)

METRICS = ("cosine", "euclidean")
Metric = Literal["cosine", "euclidean"]


class ClassMeans(nn.Module):
    """Class sums ``weight [C, F]`` and counts ``counts [C]``; ``forward`` scores every class."""

    def __init__(self, n_features: int, n_classes: int, metric: Metric = "cosine") -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
        self.weight = nn.Parameter(torch.zeros(n_classes, n_features), requires_grad=False)
        self.counts = nn.Parameter(torch.zeros(n_classes), requires_grad=False)
        self.metric = metric

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The features the means are taken of, ``[B, F]``: flattened, at unit length for cosine."""
        x = x.flatten(1)
        return F.normalize(x, dim=1) if self.metric == "cosine" else x

    def means(self) -> torch.Tensor:
        """``[C, F]``: the class means (zero for a class with no example)."""
        return self.weight / self.counts.clamp_min(1.0).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, means = self.prepare(x), self.means()
        if self.metric == "cosine":
            scores = f @ F.normalize(means, dim=1).T
        else:
            scores = -torch.cdist(f, means).pow(2)
        empty = self.counts == 0
        if not empty.any() or empty.all():
            return scores
        lowest = scores[:, ~empty].min(dim=1, keepdim=True).values - 1.0
        return torch.where(empty, lowest, scores)

    def n_classes_seen(self) -> int:
        """Classes with at least one example."""
        return int((self.counts > 0).sum())
