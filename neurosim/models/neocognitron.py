"""Fukushima's Neocognitron (2003 version for handwritten digits), learnt without backprop.

References: K. Fukushima, "Neocognitron for handwritten digit recognition", Neurocomputing
51:161-180 (2003) (98.6 % on ETL1 with 3000 training digits); K. Fukushima, Biol. Cybern.
36:193-202 (1980). Cells: :mod:`neurosim.models.neocognitron_cells` (equations there); learning:
:mod:`neurosim.rules.competitive`.

Hierarchy (sizes for the default 28x28 image on a 32x32 retina)::

    U0 32x32 -> UG 2@32x32 (on/off contrast) -> US1 16@32x32 (edges, 16 directions) -> UC1 16@16x16
    -> US2 K2@16x16 -> UC2 K2@8x8 -> US3 K3@8x8 -> UC3 K3@4x4 -> US4 (one cell per learnt pattern)
    -> UC4 (one per class: the largest response of its US4 cells) -> answer

Learning, stage by stage and never by gradients:

* US1 learns **with a teacher** (as in the 2003 paper): each of the 16 planes is taught the UG
  response to a straight edge of one direction (``edge_templates``); done once at construction.
* US2 then US3 learn **without a teacher** (unsupervised competitive learning with plane generation,
  rule ``neocognitron_unsupervised``), each for ``training.unsupervised_epochs`` passes over the
  unlabelled images, one image at a time.
* US4 learns by **supervised competitive learning** (rule ``neocognitron_supervised``) in
  ``top_passes`` presentations of the labelled images (default 1, whatever ``training.epochs``
  gives the twin: the rule is defined by its presentations, see
  :attr:`~neurosim.models.base.NeurosimModel.supervised_passes`); it learns on UC3 responses
  computed once (:meth:`Neocognitron.frozen_split`). Recognition is the label of the strongest cell.
  More passes do not help (``docs/model_choices.md``).

Parameters (the paper's ETL1 network uses a 65x65 input; these are chosen for 28x28 images and
stated here). The recognition thresholds were chosen on validation splits of the training sets
(digits: 300 held-out training images; Fashion-MNIST: 10k, with 10k or 50k for training), never
on the test set (the measurements: ``docs/model_choices.md``); recognition is tuned broader than
learning, the point of the dual threshold, and the paper's inhibitory surround stays. Thresholds:
``theta_R`` during recognition, ``theta_L`` (higher) during learning:

=================  =====================================  ===========================================
layer              connection area / pooling              thresholds, planes
=================  =====================================  ===========================================
UG                 DoG radius 3, sigma 0.8 / 2.0          (fixed)
US1                radius 3 over 2 planes                 theta 0.45, 16 planes (taught edges)
UC1                radius 3, sigma 1.5, surround 0.3, /2
US2                radius 2 over 16 planes                theta_L 0.70 / theta_R 0.30, <= 64 planes
UC2                radius 2, sigma 1.0, surround 0.3, /2
US3                radius 2 over K2 planes                theta_L 0.70 / theta_R 0.30, <= 128 planes
UC3                radius 2, sigma 1.0, surround 0.3, /2
US4                all of UC3                             theta_L 0.80 / theta_R 0.10, as generated
=================  =====================================  ===========================================

All layers: V-cell spread ``c(nu) = 0.7^|nu|``; reinforcement ``q = 1e4``; competition radius 2;
"input present" at 0.1 of the image's largest V-cell. Images of another size are resized
(bilinear) to ``image_size`` and padded by ``margin`` on each side, so the 8x8 sklearn digits run
on the same network.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep
from neurosim.models.convergence import Convergence, generation_convergence
from neurosim.models.neocognitron_cells import CCells, ContrastCells, SCells, TopSCells, edge_templates
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

N_DIRECTIONS = 16


def _sized(values: list | tuple, length: int, name: str) -> tuple:
    """An option of ``length`` values (TOML gives lists) as a tuple; a wrong length names the option."""
    if len(values) != length:
        raise UserError(f"{name} must have {length} values, got {list(values)!r}")
    return tuple(values)


def _retina_side(image_size: int, margin: int) -> int:
    """Side of the retina: the image and its margin on both sides; at least 16 pixels, so that the
    three 2x poolings leave the top layer at least 2x2."""
    retina = image_size + 2 * margin
    if retina < 16:
        raise UserError(f"image_size + 2 margin must be at least 16 (three 2x poolings), got {retina}")
    return retina


def _pooled(side: int, times: int) -> int:
    """Side after ``times`` 2x C-cell poolings that keep a half cell at odd sides (``ceil``)."""
    for _ in range(times):
        side = (side + 1) // 2
    return side


@MODELS.register(
    "neocognitron",
    ModelCard(
        family="competitive",
        paper="Fukushima 2003, Neurocomputing 51:161",
        bio=True,
        image_input=True,
        channels=1,
        input_note="resized to image_size x image_size and padded by margin onto its retina",
        receptive_field="kernel",
    ),
)
class Neocognitron(NeurosimModel):
    """U0 -> UG -> (US1, UC1) -> (US2, UC2) -> (US3, UC3) -> US4 -> UC4; see the module docstring.

    Registered as the model ``neocognitron``; the options are the keyword arguments below.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        image_size: ImageSize = 28,
        margin: Padding = 2,
        planes: tuple[Width, Width] = (64, 128),
        max_top_cells: Width = 60000,
        theta_recognition: tuple[OpenFraction, OpenFraction, OpenFraction, OpenFraction] = (
            0.45,
            0.3,
            0.3,
            0.1,
        ),
        theta_learning: tuple[OpenFraction, OpenFraction, OpenFraction] = (0.7, 0.7, 0.8),
        q: PositiveFloat = 1e4,
        spread_decay: Fraction = 0.7,
        competition_radius: Padding = 2,
        generation_fraction: Fraction = 0.1,
        surround: NonNegativeFloat = 0.3,
        max_generated_per_image: PositiveInt | None = None,
        top_passes: PositiveInt = 1,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] != 1:
            raise UserError(
                f"the neocognitron needs one-channel image inputs [1, H, W], got input shape {input_shape}"
            )
        planes = _sized(planes, 2, "planes")
        theta_recognition = _sized(theta_recognition, 4, "theta_recognition")
        theta_learning = _sized(theta_learning, 3, "theta_learning")
        if not all(0 < t < 1 for t in (*theta_recognition, *theta_learning)):
            raise UserError("every threshold theta must lie in (0, 1)")
        self.image_size, self.margin = int(image_size), int(margin)
        retina = _retina_side(self.image_size, self.margin)
        self.ug = ContrastCells()
        self.us1 = SCells(2, N_DIRECTIONS, 3, theta_recognition[0], spread_decay, learnable=False)
        self.us1.weight.copy_(q * self.us1.c * edge_templates(self.ug, 3, N_DIRECTIONS))
        self.uc1 = CCells(3, 1.5, surround)
        self.us2 = SCells(N_DIRECTIONS, int(planes[0]), 2, theta_recognition[1], spread_decay)
        self.uc2 = CCells(2, 1.0, surround)
        self.us3 = SCells(int(planes[0]), int(planes[1]), 2, theta_recognition[2], spread_decay)
        self.uc3 = CCells(2, 1.0, surround)
        top_size = _pooled(retina, 3)
        self.us4 = TopSCells(
            (int(planes[1]), top_size, top_size),
            n_classes,
            int(max_top_cells),
            theta_recognition[3],
            spread_decay,
        )
        self.theta_learning, self.q = tuple(theta_learning), q
        self.competition_radius, self.generation_fraction = competition_radius, generation_fraction
        self.max_generated_per_image = max_generated_per_image
        if int(top_passes) < 1:
            raise UserError(f"top_passes must be at least 1, got {top_passes}")
        self.supervised_passes = int(top_passes)

    def retina(self, x: torch.Tensor) -> torch.Tensor:
        """U0: the image on the retina (:func:`~neurosim.models.retina.fit_to_retina`)."""
        return fit_to_retina(x, self.image_size, self.margin)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """UC3 responses ``[B, K3, h, w]``."""
        h = self.uc1(self.us1(self.ug(self.retina(x))))
        h = self.uc2(self.us2(h))
        return self.uc3(self.us3(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.us4(self.features(x))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        unsupervised = {
            "q": self.q,
            "competition_radius": self.competition_radius,
            "generation_fraction": self.generation_fraction,
            "max_generated_per_image": self.max_generated_per_image,
        }
        return (
            PlanStep(
                "us2",
                self.us2,
                "neocognitron_unsupervised",
                {**unsupervised, "theta": self.theta_learning[0]},
                phase="unsupervised",
            ),
            PlanStep(
                "us3",
                self.us3,
                "neocognitron_unsupervised",
                {**unsupervised, "theta": self.theta_learning[1]},
                phase="unsupervised",
            ),
            PlanStep(
                "us4", self.us4, "neocognitron_supervised", {"theta": self.theta_learning[2], "q": self.q}
            ),
        )

    def frozen_split(self) -> tuple:
        """``(features, us4)``: US4 learns on UC3 responses, which no longer change once US3 has learnt."""
        return self.features, self.us4

    def probe_points(self) -> dict[str, nn.Module]:
        """Every S- and C-layer's output (rectified or saturated inside its cells), input side
        first; ``us4`` gives the class scores (UC4)."""
        return {
            "us1": self.us1,
            "uc1": self.uc1,
            "us2": self.us2,
            "uc2": self.uc2,
            "us3": self.us3,
            "uc3": self.uc3,
            "us4": self.us4,
        }

    def first_layer_weights(self) -> torch.Tensor:
        """US1's taught edges, on-centre minus off-centre input plane, ``[16, 49]`` (7x7 each)."""
        a = self.us1.weight / self.us1.c
        return (a[:, 0] - a[:, 1]).flatten(1)

    def buffers_fixed(self) -> list[torch.Tensor]:
        return [self.ug.kernel, self.us1.weight, self.uc1.kernel, self.uc2.kernel, self.uc3.kernel]

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """Cell-planes generated by each learnt layer: at least 2 in US2 and US3 (one plane cannot
        discriminate) and a cell per class in US4."""
        return generation_convergence(self.plane_counts(), {"us2": 2, "us3": 2, "us4": self.us4.n_classes})

    def plane_counts(self) -> dict[str, int]:
        """Cell-planes (cells) generated so far per learnt layer."""
        return {"us2": self.us2.n_planes(), "us3": self.us3.n_planes(), "us4": self.us4.n_cells()}
