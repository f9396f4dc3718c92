"""k-means prototypes with label assignment: the unsupervised competitive-learning counterpart of
Diehl & Cook's network.

Diehl & Cook's excitatory neurons compete through lateral inhibition, and STDP moves the winner's
weights toward the input; with weight normalisation this is close to online k-means with
(soft) winner-take-all. This model keeps the competition and drops the spikes::

    prototypes c_k [K, D] learnt without labels by mini-batch k-means (Sculley 2010,
    "Web-scale k-means clustering", WWW: per batch, every x joins its nearest prototype and
    c_k += (sum_{x in k} x - n_k c_k) / v_k with v_k the examples prototype k has taken so far);
    seeded by k-means++ (Arthur & Vassilvitskii 2007) on the first batch
    response a [B, K] = one-hot of the nearest prototype                  (probe point ``winner``)
    class scores: the same label assignment as Diehl & Cook's (models/label_assignment.py)

With the paper's readout, an input gets the class of its nearest prototype. ``n_prototypes``
equals the spiking network's number of excitatory neurons in the ``diehl_cook`` pair.
Mini-batch k-means is written here (20 lines) rather than taken from scikit-learn so that it
trains in the same harness, on the same batches and device as every other model.

Shapes: input ``[B, ...]`` (flattened to ``D``); logits ``[B, C]``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from neurosim.models.base import PlanStep, flat_size
from neurosim.models.label_assignment import AssignmentLabelled, LabelAssignment
from neurosim.models.registry import MODELS, ModelCard
from neurosim.options import Width
from neurosim.rules.kmeans import nearest_prototype


class Prototypes(nn.Module):
    """``K`` prototypes ``[K, D]`` and how many examples each has taken ``[K]``; ``forward`` gives
    the one-hot of the nearest (squared Euclidean distance) among those that took any example
    (:meth:`usable`): one the seeding never reached stays empty (a pool with fewer distinct
    images than ``K``) and must not win inputs at inference either."""

    def __init__(self, n_inputs: int, n_prototypes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_prototypes, n_inputs), requires_grad=False)
        self.taken = nn.Parameter(torch.zeros(n_prototypes), requires_grad=False)

    def usable(self) -> torch.Tensor:
        """``[K]`` bool: prototypes that took an example (all before any training). Tensor ops
        only, so a forward pass on a GPU does not wait for the host."""
        taken = self.taken > 0
        return taken | ~taken.any()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        nearest = nearest_prototype(x, self.weight, self.usable())
        return nn.functional.one_hot(nearest, len(self.weight)).to(x.dtype)


@MODELS.register(
    "kmeans",
    ModelCard(
        family="clustering",
        paper="Sculley 2010, WWW (mini-batch k-means)",
        bio=False,
        fit_version=2,  # 2: k-means++ continued over batches (neurosim.rules.kmeans.seed_empty)
    ),
)
class KMeansAssignment(AssignmentLabelled):
    """Flattened input -> nearest of ``n_prototypes`` -> label assignment (module docstring)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        n_prototypes: Width = 100,
        readout: Literal["mean", "proportion"] = "mean",
    ) -> None:
        super().__init__()
        self.prototypes = Prototypes(flat_size(input_shape), int(n_prototypes))
        self.winner = nn.Identity()
        self.assignment = LabelAssignment(int(n_prototypes), n_classes, readout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.winner(self.prototypes(x))

    def unsupervised_step(self) -> PlanStep:
        return PlanStep("prototypes", self.prototypes, "minibatch_kmeans", phase="unsupervised")

    def readout_probe(self) -> str | None:
        """None: the label assignment, which reads the winner, is no probe point."""
        return None

    def probe_points(self) -> dict[str, nn.Module]:
        return {"winner": self.winner}

    def first_layer_weights(self) -> torch.Tensor:
        return self.prototypes.weight
