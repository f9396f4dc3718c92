"""The contract every neurosim model keeps, and its learning plan.

A model is a plain ``nn.Module`` built by a registered factory ``factory(input_shape, n_classes,
**options)``. ``forward(x) -> logits [B, C]`` (class scores; the predicted class is the argmax).
Models never move themselves between devices and keep no state across calls.

A model says *how* each of its parameter groups learns through :meth:`NeurosimModel.learning_plan`:
a tuple of :class:`PlanStep`, each binding a module's parameters to a rule from
:data:`neurosim.rules.RULES` (``backprop`` or a local rule such as ``perceptron``). Parameters in no
step are fixed (e.g. Rosenblatt's random association layer). A step's ``phase`` says when it
learns: ``unsupervised`` steps (Hebbian layers) are trained first, one after another in plan
order, on images without labels; ``supervised`` steps are trained together afterwards.

A model may also name its own loss (:meth:`NeurosimModel.loss`); cross-entropy by default. The
trainer asks a model for the objective of each backprop step through
:meth:`NeurosimModel.training_loss`, which sees the whole :class:`TrainingBatch` (inputs, targets,
phase): a reconstruction, sequence or energy-based objective overrides it, and an ``unsupervised``
step bound to ``backprop`` (an autoencoder's encoder and decoder) is trained by it without labels.

A model whose supervised phase trains only a head on top of layers its unsupervised rules own may
say so with :meth:`NeurosimModel.frozen_split`; the trainer then computes those frozen features
once per fit instead of once per batch and epoch.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.models.convergence import Convergence
from neurosim.objectives import CROSS_ENTROPY
from neurosim.probes import layer_of

PHASES = ("unsupervised", "supervised")


@dataclass(frozen=True, eq=False)
class PlanStep:
    """One parameter group and the rule that trains it.

    Attributes:
        group: name of the parameter group (unique within the model).
        module: the layer whose parameters the rule changes; local rules observe its input.
        rule: registry key of the learning rule.
        rule_options: keyword options of the rule's constructor (learning rate, exponents, ...).
        phase: ``supervised`` (default) or ``unsupervised`` (trained first, without labels).
    """

    group: str
    module: nn.Module
    rule: str
    rule_options: dict[str, Any] = field(default_factory=dict)
    phase: str = "supervised"

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}; valid phases: {', '.join(PHASES)}")


@dataclass(frozen=True, eq=False)
class TrainingBatch:
    """One training step's data, as :meth:`NeurosimModel.training_loss` sees it.

    Attributes:
        inputs: ``[B, ...]`` the batch's images, or the frozen features of the supervised phase
            when the trainer caches them (then ``forward`` is the model's head).
        targets: ``[B]`` class indices; ``None`` in the unsupervised phase.
        forward: maps ``inputs`` to the model's output (the model itself, or its head).
        step: the plan step being trained in the unsupervised phase (``None`` when supervised).
    """

    inputs: torch.Tensor
    targets: torch.Tensor | None
    forward: Callable[[torch.Tensor], torch.Tensor]
    step: PlanStep | None = None


class NeurosimModel(nn.Module, metaclass=ABCMeta):
    """Base class: adds the learning plan, probe points and receptive-field access to nn.Module.
    A model that lacks one of the abstract methods cannot be built (a clear ``TypeError`` naming
    them, instead of a ``NotImplementedError`` when an analysis first asks)."""

    @abstractmethod
    def learning_plan(self) -> tuple[PlanStep, ...]:
        """Which rule trains which parameter group."""

    #: Name of the training objective :meth:`loss` computes (stored with the results; registered
    #: with :func:`neurosim.objectives.objective` where the objective is defined).
    loss_name = CROSS_ENTROPY

    #: For a supervised rule defined by a fixed number of presentations of the labelled data (the
    #: Neocognitron's top layer learns from one), that number: the model learns only in its first
    #: ``supervised_passes`` epochs of the shared budget and is unchanged afterwards (its later
    #: checkpoints repeat the last measurement). ``None``: it learns in every epoch.
    supervised_passes: int | None = None

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean training loss of a batch for the parameters trained by backprop."""
        return F.cross_entropy(logits, target)

    def training_loss(self, batch: TrainingBatch) -> torch.Tensor:
        """The mean objective of one backprop step, a scalar the trainer differentiates.

        Default: the supervised loss of the batch's output, ``loss(forward(inputs), targets)``. A
        model with another objective (reconstruction ``||decode(encode(x)) - x||^2``, next-step
        prediction, an energy) overrides this and sees the whole batch; it is called with
        ``targets=None`` and ``step`` set for an unsupervised plan step bound to ``backprop``.
        """
        if batch.targets is None:
            raise TypeError(
                f"{type(self).__name__} trains {batch.step.group if batch.step else 'a group'} by "
                "backprop without labels but does not override training_loss"
            )
        return self.loss(batch.forward(batch.inputs), batch.targets)

    def frozen_split(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Module] | None:
        """``(features, head)`` with ``forward(x) == head(features(x))`` in eval mode, or ``None``.

        Only for models whose supervised steps all lie inside ``head``: after the unsupervised
        phase ``features`` never changes, so the trainer evaluates it once, in eval mode (batch
        normalisation with its running statistics, as a frozen block runs in the released SoftHebb
        code), and trains ``head`` on the stored features. Batch-norm layers inside ``features``
        therefore use running statistics during the supervised phase, not batch statistics.
        """
        return None

    @abstractmethod
    def probe_points(self) -> dict[str, nn.Module]:
        """Named layers whose outputs analyses may record, input side first (names:
        :mod:`neurosim.probes`): a layer with a nonlinearity gives ``"<layer>.pre"`` (the current
        before it) right before ``"<layer>"`` (its output after it); other layers ``"<layer>"``."""

    def readout_probe(self) -> str | None:
        """The layer of :meth:`probe_points` that gives the class scores (with its ``.pre``, if
        any), which analyses of hidden representations leave out: by default the last probe
        point's layer. A model whose readout is no probe point (a label assignment on spike counts
        or prototypes) returns ``None``."""
        return layer_of(list(self.probe_points())[-1])

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """Whether the model's local rules learnt, checked at the end of a fit with a sample of
        training inputs ``x`` ``[B, ...]`` (see :mod:`neurosim.models.convergence`); ``None`` for a
        model with nothing to check (every weight trained by backprop, or a rule with no fixed
        point to reach, such as the perceptron's)."""
        return None

    @abstractmethod
    def first_layer_weights(self) -> torch.Tensor:
        """Weights from the input to the first layer's units, ``[units, D]`` (receptive fields)."""

    def count_parameters(self) -> dict[str, int]:
        """Number of trainable (by any rule) and fixed parameter values."""
        trained = {id(p) for step in self.learning_plan() for p in step.module.parameters()}
        tensors = list(self.parameters()) + list(self.buffers_fixed())
        n_trained = sum(p.numel() for p in self.parameters() if id(p) in trained)
        n_fixed = sum(t.numel() for t in tensors if id(t) not in trained)
        return {"trainable": n_trained, "fixed": n_fixed}

    def buffers_fixed(self) -> list[torch.Tensor]:
        """Buffers that act as fixed weights (counted as fixed parameters); none by default."""
        return []


class Probe(nn.Identity):
    """A probe point for a value computed functionally inside ``forward`` (after a nonlinearity
    such as ``relu(u)^n`` or ``softmax``): ``forward`` applies it to that value, which it returns
    unchanged (the same tensor object), so analyses can hook it. It has no parameters or buffers,
    so state dicts, operation counts and every number of the forward pass stay as they were."""


def flat_size(input_shape: tuple[int, ...]) -> int:
    """Number of values in one input of shape ``input_shape``."""
    size = 1
    for dim in input_shape:
        size *= int(dim)
    return size
