"""Label assignment: how an unsupervised population becomes a classifier (Diehl & Cook 2015).

Each unit ``j`` gets the class for which its average response over labelled training examples is
highest; a new input is given the class whose assigned units respond most on average::

    r_jc = (1 / n_c) sum_{examples of class c} a_j          (mean response of unit j to class c)
    assigned_j = argmax_c r_jc
    score_c(a) = mean_{j : assigned_j = c} a_j               (``readout = "mean"``, the paper's)
    score_c(a) = sum_{j : assigned_j = c} p_jc a_j,  p_jc = r_jc / sum_c' r_jc'
                                                             (``readout = "proportion"``, BindsNET's
                                                              proportion weighting)

A unit that never responded is assigned to no class. A class with no assigned unit scores -1
(responses are non-negative, so it is never chosen over a class that has one). Only training data
are used; the paper assigned from the responses to the 60,000 training images. The accumulated
sums are learnt by the ``label_assignment`` rule (:mod:`neurosim.rules.assignment`, one pass over
the labelled data), so they are saved, restored and counted like any learnt parameter.

Shapes: responses ``[B, N]`` (spike counts, one-hot prototype wins, ...); scores ``[B, C]``.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn

from neurosim.errors import UserError, choices_message
from neurosim.models.base import NeurosimModel, PlanStep
from neurosim.models.convergence import Convergence, responding_convergence

READOUTS = ("mean", "proportion")


class LabelAssignment(nn.Module):
    """Per-unit class responses (sums ``[C, N]`` and example counts ``[C]``) and the readout."""

    def __init__(self, n_units: int, n_classes: int, readout: str = "mean") -> None:
        super().__init__()
        if readout not in READOUTS:
            raise UserError(choices_message("readout", readout, READOUTS))
        self.readout = readout
        # Row c: summed responses to class c, then the number of class-c examples (last column).
        self.weight = nn.Parameter(torch.zeros(n_classes, n_units + 1), requires_grad=False)

    operation_kind = "dense"

    def operation_counts(self, responses: torch.Tensor, scores: torch.Tensor) -> dict[str, int]:
        """A ``[N] -> [C]`` readout: ``N C`` MACs per input, ``nnz(responses) C`` effective (the
        responses are counts, not binary), ``C`` score evaluations."""
        n_classes = scores.shape[1]
        nonzero = int((responses != 0).sum())
        return {
            "dense_macs": responses.numel() * n_classes,
            "effective_macs": nonzero * n_classes,
            "neuron_updates": scores.numel(),
            "weight_reads": nonzero * n_classes,
            "input_reads": nonzero,
            "output_writes": scores.numel(),
            "weight_elements": responses.shape[1] * n_classes,
            "input_elements": responses.shape[1],
            "state_elements": n_classes,
        }

    def mean_responses(self) -> torch.Tensor:
        """``r [N, C]``: each unit's mean response to each class (0 for a class not seen)."""
        sums, seen = self.weight[:, :-1], self.weight[:, -1:]
        return (sums / seen.clamp_min(1.0)).T

    def assigned(self) -> torch.Tensor:
        """``[N]``: each unit's class; -1 for a unit that never responded (as in the paper's code)."""
        best, assigned = self.mean_responses().max(dim=1)
        return torch.where(best > 0, assigned, -1)

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        mean = self.mean_responses()
        classes = torch.arange(mean.shape[1], device=mean.device)
        membership = (self.assigned().unsqueeze(1) == classes).to(responses.dtype)  # [N, C]
        if self.readout == "proportion":
            proportion = mean / mean.sum(dim=1, keepdim=True).clamp_min(1e-12)
            scores = responses @ (membership * proportion)
        else:
            scores = responses @ membership / membership.sum(dim=0).clamp_min(1.0)
        return torch.where(membership.sum(dim=0) > 0, scores, torch.full_like(scores, -1.0))


class AssignmentLabelled(NeurosimModel):
    """A model whose features are learnt without labels and classified by :class:`LabelAssignment`
    (``self.assignment``), learnt in one pass over the labelled data once the features are fixed.

    Subclasses define :meth:`features` and :meth:`unsupervised_step`.
    """

    supervised_passes = 1
    assignment: LabelAssignment

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Responses ``[B, N]`` of the unsupervised units."""

    @abstractmethod
    def unsupervised_step(self) -> PlanStep:
        """The plan step that learns the features without labels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.assignment(self.features(x))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (self.unsupervised_step(), PlanStep("assignment", self.assignment, "label_assignment"))

    def frozen_split(self) -> tuple:
        """``(features, assignment)``: the responses no longer change once the features are learnt."""
        return self.features, self.assignment

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """The units that responded to some labelled training image (a unit that never responds
        never learns, and is assigned no class)."""
        return responding_convergence(self.assignment.assigned())
