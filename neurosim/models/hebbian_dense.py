"""What the dense Hebbian networks share: their inputs, one hidden layer, one readout.

Krotov & Hopfield's network (:mod:`neurosim.models.krotov`) and the SoftHebb MLP
(:mod:`neurosim.models.softhebb`) both map an input, scaled to unit length ``v = x / ||x||_2``
(``inputs = "unit_length"``, neurosim's default for both) or as given (``"raw"``, the released
codes' pixels in [0, 1]), through a dense hidden layer without bias (``W: [H, D]``) to a
readout. The bio model trains ``W`` with its Hebbian rule in the unsupervised phase (no labels)
and the readout by backprop; its twin (``rule_options is None``) trains both layers end to end by
backprop. Subclasses define what the readout sees (``forward``) and, if needed, the loss.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError, choices_message
from neurosim.models.base import NeurosimModel, PlanStep, Probe
from neurosim.models.convergence import Convergence, norm_convergence
from neurosim.probes import current

#: What the hidden layer sees: ``unit_length`` (each input scaled to Euclidean length 1) or ``raw``.
INPUTS = ("unit_length", "raw")


def unit_length(x: torch.Tensor) -> torch.Tensor:
    """Flatten and scale every sample to unit Euclidean length (zero inputs stay zero).

    Shapes:
        x ``[B, ...]``; returns ``[B, D]``.
    """
    v = x.flatten(1)
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


class DenseHebbianNetwork(NeurosimModel):
    """``hidden`` (``[H, D]``, no bias) learnt by ``rule`` without labels, then ``readout``.

    Args:
        n_inputs: input size ``D``.
        n_classes: number of classes ``C``.
        n_hidden: hidden units ``H``.
        rule: registry key of the Hebbian rule.
        rule_options: the rule's options, or ``None`` for the backprop twin.
        readout_bias: whether the readout has a bias.
        inputs: ``unit_length`` or ``raw`` (:data:`INPUTS`).
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        n_hidden: int,
        rule: str,
        rule_options: dict | None,
        readout_bias: bool,
        inputs: str = "unit_length",
    ) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise UserError(choices_message("inputs", inputs, INPUTS))
        self.unit_length_inputs = inputs == "unit_length"
        self.hidden = nn.Linear(n_inputs, n_hidden, bias=False)
        self.readout = nn.Linear(n_hidden, n_classes, bias=readout_bias)
        # Probe point of the hidden layer's output after its nonlinearity (subclasses apply it).
        self.features_probe = Probe()
        self.rule, self.rule_options = rule, rule_options

    def learning_plan(self) -> tuple[PlanStep, ...]:
        if self.rule_options is None:
            return (PlanStep("all", nn.ModuleList([self.hidden, self.readout]), "backprop"),)
        return (
            PlanStep("hidden", self.hidden, self.rule, self.rule_options, phase="unsupervised"),
            PlanStep("readout", self.readout, "backprop"),
        )

    def hidden_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the hidden layer sees, ``[B, D]``: the input flattened, at unit length unless
        ``inputs = "raw"``."""
        return unit_length(x) if self.unit_length_inputs else x.flatten(1)

    def competition_currents(self, x: torch.Tensor) -> torch.Tensor:
        """The currents ``[B, H]`` by which the rule's units compete: ``W v``."""
        return self.hidden(self.hidden_input(x))

    #: The norm whose unit sphere the rule drives every learning unit to.
    fixed_point_p = 2.0

    @torch.no_grad()
    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """Hidden units' norms against the rule's fixed point, and the units that win an input."""
        if self.rule_options is None:
            return None
        return norm_convergence(self.hidden.weight, self.fixed_point_p, self.competition_currents(x))

    def probe_points(self) -> dict[str, nn.Module]:
        """``hidden.pre`` (the currents ``W v``), ``hidden`` (what the readout sees), ``output``."""
        return {current("hidden"): self.hidden, "hidden": self.features_probe, "output": self.readout}

    def first_layer_weights(self) -> torch.Tensor:
        return self.hidden.weight.detach()
