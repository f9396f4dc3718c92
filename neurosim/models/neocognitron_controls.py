"""Controls of the Neocognitron pair: its readout on other features, and other readouts on its own.

``neocognitron_knn`` keeps the Neocognitron up to UC3 (US1 taught, US2 and US3 self-organised
without labels, the same phases and budget) and replaces US4's supervised competitive learning by
a nearest-class-mean readout on the UC3 responses (:mod:`neurosim.models.prototype_readout`, one
pass over the labelled images, as US4): what the intermediate features give without US4, so that
US4's own contribution can be told apart.

``neocognitron_kmeans`` keeps US4 (``TopSCells``, rule ``neocognitron_supervised``, one pass,
the same thresholds) and feeds it features learnt without labels by a conventional method: the
image on the same retina, flattened (``x`` ``[D]``, ``D = (image_size + 2 margin)^2``), against
``K`` k-means prototypes ``c_k`` (mini-batch k-means, Sculley 2010), with the "triangle"
activation of Coates, Lee & Ng (AISTATS 2011), non-negative as C-cell responses are::

    z_k = ||x - c_k||,    f_k = max(0, mean_j z_j - z_k)          f: [K] -> US4 as K planes of 1x1

It asks whether the Neocognitron's hierarchy of self-organised S- and C-layers is what its top
layer needs, or any unsupervised features would do. ``K`` is the number of US3 planes.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep
from neurosim.models.convergence import Convergence, generation_convergence
from neurosim.models.kmeans import Prototypes
from neurosim.models.neocognitron import Neocognitron, _pooled, _retina_side
from neurosim.models.neocognitron_cells import TopSCells
from neurosim.models.prototype_readout import ClassMeans, Metric
from neurosim.models.registry import MODELS, ModelCard
from neurosim.models.retina import fit_to_retina
from neurosim.options import (
    Fraction,
    ImageSize,
    NonNegativeFloat,
    OpenFraction,
    Padding,
    PositiveFloat,
    PositiveInt,
    Width,
)


class NeocognitronClassMeans(Neocognitron):
    """The Neocognitron to UC3, then a nearest-class-mean readout in place of US4."""

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, metric: Metric, **options) -> None:
        super().__init__(input_shape, n_classes, **options)
        planes, side = self.us3.weight.shape[0], _pooled(_retina_side(self.image_size, self.margin), 3)
        self.us4 = ClassMeans(planes * side * side, n_classes, metric)  # type: ignore[assignment]

    def learning_plan(self) -> tuple[PlanStep, ...]:
        us2, us3, _ = super().learning_plan()
        return (us2, us3, PlanStep("class_means", self.us4, "class_means"))

    def probe_points(self) -> dict[str, nn.Module]:
        points = super().probe_points()
        del points["us4"]
        return points | {"class_means": self.us4}

    def plane_counts(self) -> dict[str, int]:
        """Planes generated in US2 and US3, and classes with a mean (under ``us4``)."""
        means = self.us4.n_classes_seen()  # type: ignore[operator]
        return {"us2": self.us2.n_planes(), "us3": self.us3.n_planes(), "us4": means}

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """US2 and US3 as the Neocognitron's; the readout has a mean for every class."""
        n_classes = len(self.us4.counts)  # type: ignore[arg-type]
        return generation_convergence(self.plane_counts(), {"us2": 2, "us3": 2, "us4": n_classes})


_CARD = {"bio": False, "image_input": True, "channels": 1, "receptive_field": "kernel"}
_RETINA = "resized to image_size x image_size and padded by margin onto its retina"


@MODELS.register(
    "neocognitron_knn",
    ModelCard(
        family="control",
        paper="Fukushima 2003, Neurocomputing 51:161; readout: nearest class mean",
        input_note=_RETINA,
        **_CARD,  # type: ignore[arg-type]
    ),
)
def neocognitron_knn(
    input_shape: tuple[int, ...],
    n_classes: int,
    image_size: ImageSize = 28,
    margin: Padding = 2,
    planes: tuple[Width, Width] = (64, 128),
    theta_recognition: tuple[OpenFraction, OpenFraction, OpenFraction] = (0.45, 0.3, 0.3),
    theta_learning: tuple[OpenFraction, OpenFraction] = (0.7, 0.7),
    q: PositiveFloat = 1e4,
    spread_decay: Fraction = 0.7,
    competition_radius: Padding = 2,
    generation_fraction: Fraction = 0.1,
    surround: NonNegativeFloat = 0.3,
    max_generated_per_image: PositiveInt | None = None,
    metric: Metric = "cosine",
) -> NeocognitronClassMeans:
    """The Neocognitron's US1-UC3 (same options as ``neocognitron``'s, without US4's), then the
    nearest class mean of the UC3 responses."""
    if len(theta_recognition) != 3 or len(theta_learning) != 2:
        raise UserError("neocognitron_knn takes 3 recognition and 2 learning thresholds (US1-US3)")
    options = {
        "image_size": image_size,
        "margin": margin,
        "planes": planes,
        "theta_recognition": (*theta_recognition, 0.1),  # US4's, unused: replaced by the readout
        "theta_learning": (*theta_learning, 0.8),
        "q": q,
        "spread_decay": spread_decay,
        "competition_radius": competition_radius,
        "generation_fraction": generation_fraction,
        "surround": surround,
        "max_generated_per_image": max_generated_per_image,
    }
    return NeocognitronClassMeans(input_shape, n_classes, metric, **options)


class TriangleKMeans(Prototypes):
    """``K`` k-means prototypes of flattened inputs (rule ``minibatch_kmeans``) and the triangle
    activation ``f_k = max(0, mean_j z_j - z_k)``, ``z_k = ||x - c_k||``: ``[B, ...] -> [B, K, 1, 1]``;
    the mean and the features run over prototypes that took an example (an empty one gives 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A mask, not boolean indexing: indexing would make a GPU forward wait for the host.
        usable = self.usable().to(x.dtype)
        z = torch.cdist(x.flatten(1), self.weight)
        mean = (z * usable).sum(dim=1, keepdim=True) / usable.sum()
        return (torch.relu(mean - z) * usable)[:, :, None, None]


class KMeansTopCells(NeurosimModel):
    """The retina, k-means triangle features, and the Neocognitron's US4 (module docstring)."""

    def __init__(self, n_classes: int, retina: tuple[int, int], n_prototypes: int, top: dict) -> None:
        super().__init__()
        self.image_size, self.margin = retina
        side = _retina_side(*retina)
        self.prototypes = TriangleKMeans(side * side, n_prototypes)
        self.us4 = TopSCells((n_prototypes, 1, 1), n_classes, top["max_cells"], top["theta_recognition"])
        self.theta_learning, self.q = top["theta_learning"], top["q"]
        self.supervised_passes = 1  # as US4 in the Neocognitron: one presentation of the labelled set

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Triangle k-means features of the image on the retina, ``[B, K, 1, 1]``."""
        return self.prototypes(fit_to_retina(x, self.image_size, self.margin))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.us4(self.features(x))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (
            PlanStep("prototypes", self.prototypes, "minibatch_kmeans", phase="unsupervised"),
            PlanStep("us4", self.us4, "neocognitron_supervised", {"theta": self.theta_learning, "q": self.q}),
        )

    def frozen_split(self) -> tuple:
        return self.features, self.us4

    def probe_points(self) -> dict[str, nn.Module]:
        return {"prototypes": self.prototypes, "us4": self.us4}

    def first_layer_weights(self) -> torch.Tensor:
        return self.prototypes.weight.detach()

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """A US4 cell per class, as the Neocognitron's diagnostic asks."""
        return generation_convergence({"us4": self.us4.n_cells()}, {"us4": self.us4.n_classes})


@MODELS.register(
    "neocognitron_kmeans",
    ModelCard(
        family="control",
        paper="Coates, Lee & Ng 2011, AISTATS (triangle k-means); top: Fukushima 2003",
        input_note=_RETINA + ", flattened",
        fit_version=2,  # 2: k-means++ continued over batches (neurosim.rules.kmeans.seed_empty)
        **{**_CARD, "receptive_field": "retina"},  # type: ignore[arg-type]
    ),
)
def neocognitron_kmeans(
    input_shape: tuple[int, ...],
    n_classes: int,
    image_size: ImageSize = 28,
    margin: Padding = 2,
    n_prototypes: Width = 128,
    max_top_cells: Width = 60000,
    theta_recognition: OpenFraction = 0.1,
    theta_learning: OpenFraction = 0.8,
    q: PositiveFloat = 1e4,
) -> KMeansTopCells:
    """k-means triangle features of the retina under the Neocognitron's US4 (its default thresholds)."""
    if len(input_shape) != 3 or input_shape[0] != 1:
        raise UserError(f"neocognitron_kmeans needs one-channel images [1, H, W], got {input_shape}")
    top = {
        "max_cells": int(max_top_cells),
        "theta_recognition": float(theta_recognition),
        "theta_learning": float(theta_learning),
        "q": float(q),
    }
    return KMeansTopCells(n_classes, (int(image_size), int(margin)), int(n_prototypes), top)
