"""Rosenblatt's 1958 photoperceptron: fixed random association units feeding learned responses.

Architecture (Rosenblatt 1958, "The perceptron: a probabilistic model for information storage
and organization in the brain", Psychol. Rev. 65:386-408; Rosenblatt 1962, *Principles of
Neurodynamics*, the "simple perceptron" S -> A -> R):

* S-units (sensory points): the input pixels ``x`` (intensities in [0, 1]; binary on Boolean
  tasks).
* A-units (association cells): each receives ``n_excitatory`` connections of weight +1 and
  ``n_inhibitory`` of weight -1 from S-points chosen at random (uniformly, with replacement:
  Rosenblatt's "origin points"), and fires if the algebraic sum reaches its threshold::

      a_j = 1  if  sum_i W_ji x_i >= theta  else 0,   W_ji in {..., -1, 0, +1, ...}

  These connections are drawn once from the model's seed and never learn.
* R-units (responses): one threshold unit per class on the A-unit outputs, trained by the
  error-correction rule exactly as in :mod:`neurosim.models.perceptron`.

Because the A-layer is a fixed non-linear random expansion, a large enough A-layer makes XOR
(and parity) linearly separable for the R-units, which a perceptron on the raw input can never
learn. Choices the paper leaves open, exposed as parameters: ``n_association_units`` (512),
``n_excitatory`` = ``n_inhibitory`` = 10 (Rosenblatt's x and y), ``threshold`` theta = 1.0 in
input-intensity units.

Its conventional twin is an MLP with one hidden layer of the same width, trained end to end by
backprop (the ``perceptron_rosenblatt_mlp`` pair).
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep, flat_size
from neurosim.models.perceptron import PerceptronReadout
from neurosim.models.registry import MODELS, ModelCard
from neurosim.options import FanIn, Width


class AssociationLayer(nn.Module):
    """Fixed random threshold units: ``a = [x W^T >= theta]``.

    Shapes:
        input ``[B, D]``; output ``[B, A]`` of 0/1 floats. ``W`` is ``[A, D]`` of signed
        connection counts (a buffer: fixed, saved with the model, never trained).
    """

    def __init__(
        self, n_inputs: int, n_units: int, n_excitatory: int, n_inhibitory: int, threshold: float
    ) -> None:
        super().__init__()
        weight = torch.zeros(n_units, n_inputs)
        rows = torch.arange(n_units).repeat_interleave(n_excitatory + n_inhibitory)
        sources = torch.randint(0, n_inputs, (n_units * (n_excitatory + n_inhibitory),))
        signs = torch.cat([torch.ones(n_excitatory), -torch.ones(n_inhibitory)]).repeat(n_units)
        weight.index_put_((rows, sources), signs, accumulate=True)
        self.register_buffer("weight", weight)
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.weight.t() >= self.threshold).to(x.dtype)


class RosenblattPerceptron(NeurosimModel):
    """S -> A (fixed, random) -> R (error-correction) perceptron."""

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        n_association_units: int,
        n_excitatory: int,
        n_inhibitory: int,
        threshold: float,
    ) -> None:
        super().__init__()
        self.association = AssociationLayer(
            n_inputs, n_association_units, n_excitatory, n_inhibitory, threshold
        )
        self.readout = PerceptronReadout(n_association_units, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.association(x.flatten(1)))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("readout", self.readout, "perceptron"),)

    def probe_points(self) -> dict[str, nn.Module]:
        """``association`` (the A-units' 0/1 outputs; the module thresholds its own current), then
        ``readout``."""
        return {"association": self.association, "readout": self.readout}

    def first_layer_weights(self) -> torch.Tensor:
        return self.association.weight.detach()

    def buffers_fixed(self) -> list[torch.Tensor]:
        return [self.association.weight]


@MODELS.register(
    "perceptron_rosenblatt",
    ModelCard(family="perceptron", paper="Rosenblatt 1958, Psychol. Rev. 65:386", bio=True),
)
def perceptron_rosenblatt(
    input_shape: tuple[int, ...],
    n_classes: int,
    n_association_units: Width = 512,
    n_excitatory: FanIn = 10,
    n_inhibitory: FanIn = 10,
    threshold: float = 1.0,
) -> RosenblattPerceptron:
    """Rosenblatt's photoperceptron with a fixed random A-layer of threshold units."""
    if n_association_units < 1 or n_excitatory < 0 or n_inhibitory < 0:
        raise UserError("perceptron_rosenblatt needs n_association_units >= 1 and non-negative fan-ins")
    if n_excitatory + n_inhibitory == 0:
        raise UserError("perceptron_rosenblatt needs n_excitatory + n_inhibitory >= 1")
    return RosenblattPerceptron(
        flat_size(input_shape),
        n_classes,
        n_association_units,
        n_excitatory,
        n_inhibitory,
        threshold,
    )
