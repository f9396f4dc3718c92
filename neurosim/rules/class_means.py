"""The nearest-class-mean readout's rule: per class, the sum and count of its training features.

A nearest-class-mean (nearest-centroid) classifier (e.g. scikit-learn's ``NearestCentroid``;
T. Mensink et al., "Distance-based image classification", IEEE TPAMI 35:2624, 2013) keeps, for
every class ``c``, the mean ``m_c = (1 / n_c) sum_{i: y_i = c} f_i`` of the features of its
labelled examples. The rule accumulates ``S_c = sum f_i`` and ``n_c`` batch by batch, so one pass
over the labelled set gives the exact means whatever the batch size (and further passes leave
them unchanged: every sum and count grows by the same factor). It is supervised and local: no
gradient, no loss. Its objective is the mistakes the readout makes on each batch before the batch
is added (the online error rate, as for the perceptron).
"""

from __future__ import annotations

from typing import Protocol, cast

import torch
from torch import nn

from neurosim.rules.base import ONLINE_ERROR_RATE, write_delta
from neurosim.rules.layers import LayerNeeds
from neurosim.rules.registry import RULES

#: A nearest-class-mean readout: class sums ``weight [C, F]``, class counts ``counts [C]`` and the
#: features it compares (``prepare``: e.g. scaled to unit length for the cosine).
CLASS_MEANS = LayerNeeds("a nearest-class-mean readout", ("weight", "counts", "prepare"))


class ClassMeansLayer(Protocol):
    """What the rule reads of its layer (:data:`CLASS_MEANS`), for the type checker."""

    weight: nn.Parameter
    counts: nn.Parameter

    def prepare(self, x: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@RULES.register("class_means")
class ClassMeansRule:
    """See the module docstring; trains a :class:`~neurosim.models.prototype_readout.ClassMeans`."""

    name = "class_means"
    layer = CLASS_MEANS
    objective = ONLINE_ERROR_RATE
    last_updates = 0

    @torch.no_grad()
    def write_grads(
        self, module: nn.Module, pre: torch.Tensor, target: torch.Tensor | None, progress: float = 0.0
    ) -> float:
        if target is None:
            raise ValueError("the class-means rule is supervised: it needs each batch's labels")
        layer = cast(ClassMeansLayer, module)
        weight, class_counts = layer.weight, layer.counts
        mistakes = float((layer(pre).argmax(1) != target).sum())
        features = layer.prepare(pre)
        sums = torch.zeros_like(weight).index_add_(0, target, features)
        counts = torch.bincount(target, minlength=len(class_counts)).to(class_counts.dtype)
        self.last_updates = features.numel()  # each sample adds to its class's sum
        write_delta(weight, sums)
        write_delta(class_counts, counts)
        return mistakes
