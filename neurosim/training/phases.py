"""The phases of a fit, each one unit: what one step of it does, and (unsupervised) its schedule.

A model's learning plan (:class:`~neurosim.models.base.PlanStep`) splits its parameters into

* **unsupervised** steps, trained first, one after another in plan order, on images without
  labels. A *local rule*'s step runs the forward pass only up to its layer
  (:func:`~neurosim.training.capture.input_of`), lets the rule write ``-dw`` into ``.grad`` and
  applies it by SGD with lr = 1 (``w += dw``). A step bound to ``backprop`` (an autoencoder's
  layers) differentiates the model's own :meth:`~neurosim.models.base.NeurosimModel.training_loss`
  of the unlabelled batch and steps the configured optimiser (``training.optimizer``, ``lr``,
  ``weight_decay``) at a constant rate; its loss is not recorded, and a divergence shows as
  non-finite weights when the phase ends. Their parameters are frozen for autograd otherwise, so
  the supervised loss never reaches a layer the phase owns (a parameter belongs to one plan step:
  :func:`check_plan`).
* **supervised** steps, trained together on the labelled subset: the forward pass (autograd on
  for backprop groups), the model's training loss backpropagated, every local rule's ``-dw`` from
  the input it saw (:class:`~neurosim.training.capture.InputCapture`), then each optimiser steps
  (Adam or SGD for backprop, SGD with lr = 1 for local rules).

Between the two, :func:`frozen_features` lets a model whose supervised steps all lie in a head
above frozen layers train the head on features computed once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neurosim.config import TrainingConfig
from neurosim.evaluation import in_eval_batches
from neurosim.models.base import NeurosimModel, PlanStep, TrainingBatch
from neurosim.rules import RULES
from neurosim.rules.base import LocalRule
from neurosim.rules.layers import check_layer
from neurosim.training.callbacks import TrainingCallback
from neurosim.training.capture import InputCapture, input_of
from neurosim.training.schedule import epoch_order, steps_per_epoch

#: Frozen features (see NeurosimModel.frozen_split) up to this size are kept in memory for a fit.
FEATURE_CACHE_BYTES = 8 * 2**30


def build_optimizer(params: list[nn.Parameter], config: TrainingConfig) -> torch.optim.Optimizer:
    """The configured backprop optimiser (Adam, or SGD with momentum) over ``params``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def check_plan(model: NeurosimModel, plan: Sequence[PlanStep]) -> None:
    """Refuse (one line, ``TypeError``) a learning plan the phases cannot train as written: a
    parameter in two plan steps (the unsupervised phase freezes its parameters for good, so a
    later step would silently never train them), or no supervised step (nothing would learn the
    classes)."""
    owner: dict[int, str] = {}
    for step in plan:
        for parameter in step.module.parameters():
            if id(parameter) in owner and owner[id(parameter)] != step.group:
                raise TypeError(
                    f"{type(model).__name__}: plan steps {owner[id(parameter)]!r} and {step.group!r} "
                    "share parameters; each parameter is trained by one step"
                )
            owner[id(parameter)] = step.group
    if not any(step.phase == "supervised" for step in plan):
        raise TypeError(f"{type(model).__name__}: its learning plan has no supervised step (a readout)")


def local_rule(step: PlanStep) -> LocalRule:
    """The rule of plan step ``step``, built with its options, once its layer is checked to have
    what the rule needs (:mod:`neurosim.rules.layers`)."""
    rule: LocalRule = RULES.get(step.rule)(**step.rule_options)
    check_layer(step.group, step.module, rule.name, rule.layer)
    return rule


def apply_rule(
    step: PlanStep,
    rule: LocalRule,
    pre: torch.Tensor,
    target: torch.Tensor | None,
    progress: float,
    callbacks: TrainingCallback,
) -> float:
    """``rule`` writes its change of ``step.module`` from input ``pre`` into ``.grad``; returns the
    batch's summed objective. Observers see the update begin and end."""
    callbacks.on_rule_start(step.module)
    objective = rule.write_grads(step.module, pre, target, progress=progress)
    callbacks.on_rule_end(step.module, rule, pre)
    return objective


class UnsupervisedPhase:
    """The unsupervised plan steps of ``model``: ``steps[i] = (plan step, its rule or None for
    backprop)``, trained one after another."""

    name = "unsupervised"

    def __init__(self, model: NeurosimModel, plan: Sequence[PlanStep], config: TrainingConfig) -> None:
        self.model = model
        self.steps: list[tuple[PlanStep, LocalRule | None]] = [
            (step, None if step.rule == "backprop" else local_rule(step))
            for step in plan
            if step.phase == "unsupervised"
        ]
        local = [p for step, rule in self.steps if rule is not None for p in step.module.parameters()]
        # Plain SGD with lr = 1 and no momentum keeps no state between steps.
        self.local_optimizer = torch.optim.SGD(local, lr=1.0) if local else None
        self.backprop_optimizers = {
            index: build_optimizer(list(step.module.parameters()), config)
            for index, (step, rule) in enumerate(self.steps)
            if rule is None
        }
        for step, _ in self.steps:
            for parameter in step.module.parameters():
                parameter.requires_grad_(False)

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimiser of the phase (for observers that count their work)."""
        local = [self.local_optimizer] if self.local_optimizer else []
        return local + list(self.backprop_optimizers.values())

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """The backprop optimisers' states (the local rules' SGD has none)."""
        return {str(index): optimizer.state_dict() for index, optimizer in self.backprop_optimizers.items()}

    def load_state_dict(self, state: dict[str, dict[str, Any]]) -> None:
        for index, optimizer in self.backprop_optimizers.items():
            if str(index) in state:
                optimizer.load_state_dict(state[str(index)])

    def step(self, index: int, x: torch.Tensor, progress: float, callbacks: TrainingCallback) -> None:
        """Train plan step ``index`` on the unlabelled batch ``x`` ``[B, ...]``; ``progress`` is
        the share of the layer's passes begun (for rules with a schedule)."""
        step, rule = self.steps[index]
        if rule is None:
            self._backprop_step(index, step, x)
            return
        assert self.local_optimizer is not None
        pre = input_of(self.model, step.module, x)
        self.local_optimizer.zero_grad(set_to_none=True)
        apply_rule(step, rule, pre, None, progress, callbacks)
        self.local_optimizer.step()

    def _backprop_step(self, index: int, step: PlanStep, x: torch.Tensor) -> None:
        """The step's parameters, and only they, get gradients of the model's unlabelled objective
        (the rest of the model is frozen for the step, so no other ``.grad`` is computed or kept);
        the configured optimiser steps them at the configured, constant rate."""
        optimizer = self.backprop_optimizers[index]
        optimizer.zero_grad(set_to_none=True)
        owned = {id(p) for p in step.module.parameters()}
        frozen = [p for p in self.model.parameters() if p.requires_grad and id(p) not in owned]
        for parameter in frozen:
            parameter.requires_grad_(False)
        for parameter in step.module.parameters():
            parameter.requires_grad_(True)
        try:
            with torch.enable_grad():
                loss = self.model.training_loss(TrainingBatch(x, None, self.model, step))
                loss.backward()  # type: ignore[no-untyped-call]
        finally:
            for parameter in step.module.parameters():
                parameter.requires_grad_(False)
            for parameter in frozen:
                parameter.requires_grad_(True)
        optimizer.step()

    def run(
        self, schedule: UnsupervisedSchedule, done: int, spent: float, callbacks: TrainingCallback
    ) -> float:
        """Steps ``done`` to the end of ``schedule``; returns the phase's seconds (``spent`` before).

        Each layer walks through passes over the pool (a fresh order per pass, from a stream of
        its own per layer, so the supervised phase's data order is unchanged) for
        ``schedule.per_layer`` steps; a rule's ``progress`` is the share of the layer's passes
        begun before the current one (``epoch / epochs`` when the budget is in epochs, as the
        authors' per-epoch annealing). ``schedule.save(done, seconds)`` runs after each pass.
        """
        n, batch = len(schedule.pool), schedule.batch
        per_epoch, per_layer = steps_per_epoch(n, batch), schedule.per_layer
        total = len(self.steps) * per_layer
        started = time.perf_counter() - spent
        self.model.train()
        order, order_key = torch.empty(0), (-1, -1)
        callbacks.on_phase_start(self.name)
        while done < total:
            layer, within_layer = divmod(done, per_layer)
            epoch, within = divmod(within_layer, per_epoch)
            if order_key != (layer, epoch):
                order = epoch_order(schedule.seed + 7919 * (layer + 1), epoch, n).to(schedule.pool.device)
                order_key = (layer, epoch)
            batch_x = schedule.pool[order[within * batch : (within + 1) * batch]]
            self.step(layer, batch_x, epoch * per_epoch / per_layer, callbacks)
            done += 1
            callbacks.on_step(self.name, done, total)
            if schedule.save is not None and done % per_epoch == 0:
                schedule.save(done, time.perf_counter() - started)
        callbacks.on_phase_end(self.name)
        return time.perf_counter() - started


@dataclass(frozen=True)
class UnsupervisedSchedule:
    """What the unsupervised phase presents: ``per_layer`` steps of ``batch`` images per layer from
    ``pool`` ``[N, ...]``, in orders drawn from ``seed``; ``save(done, seconds)`` checkpoints."""

    pool: torch.Tensor
    batch: int
    per_layer: int
    seed: int
    save: Callable[[int, float], None] | None = None


class SupervisedPhase:
    """The supervised plan steps of ``model``: backprop groups and local rules trained together."""

    name = "supervised"

    def __init__(self, model: NeurosimModel, plan: Sequence[PlanStep], config: TrainingConfig) -> None:
        self.model = model
        supervised = [step for step in plan if step.phase == "supervised"]
        backprop = [p for step in supervised if step.rule == "backprop" for p in step.module.parameters()]
        self.backprop_optimizer = build_optimizer(backprop, config) if backprop else None
        self.local_steps: list[tuple[PlanStep, LocalRule]] = [
            (step, local_rule(step)) for step in supervised if step.rule != "backprop"
        ]
        local = [p for step, _ in self.local_steps for p in step.module.parameters()]
        # Local rules already include their learning rate in dw: w <- w - 1 * (-dw).
        self.local_optimizer = torch.optim.SGD(local, lr=1.0) if local else None
        #: The objective the phase reports (the model's loss, or the first local rule's).
        self.objective_name = model.loss_name if backprop else self.local_steps[0][1].objective

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The phase's optimisers, backprop's first."""
        return [o for o in (self.backprop_optimizer, self.local_optimizer) if o is not None]

    def parameters(self) -> list[nn.Parameter]:
        """Every parameter the phase trains."""
        return [
            p for optimizer in self.optimizers() for group in optimizer.param_groups for p in group["params"]
        ]

    def set_learning_rate(self, lr: float) -> None:
        """The backprop optimiser's rate for the next step (local rules carry their own)."""
        if self.backprop_optimizer:
            for group in self.backprop_optimizer.param_groups:
                group["lr"] = lr

    def capture(self) -> InputCapture:
        """The input hooks :meth:`step` needs, as a ``with`` block around the phase."""
        return InputCapture(step.module for step, _ in self.local_steps)

    def step(
        self, batch: TrainingBatch, capture: InputCapture, progress: float, callbacks: TrainingCallback
    ) -> float:
        """One step on a labelled batch (inside ``with capture``); returns the batch's summed
        objective (the loss times the batch size, or the rule's count)."""
        assert batch.targets is not None
        for optimizer in self.optimizers():
            optimizer.zero_grad(set_to_none=True)
        if self.backprop_optimizer is None and len(self.local_steps) == 1:
            # One local rule and no loss: nothing needs the layers above the rule's own, so the
            # forward pass stops at its input (for a top layer that matches every input against
            # thousands of stored cells, this halves the work).
            step, rule = self.local_steps[0]
            pre = input_of(batch.forward, step.module, batch.inputs)
            objective = apply_rule(step, rule, pre, batch.targets, progress, callbacks)
            self.local_optimizer.step()  # type: ignore[union-attr]
            return objective
        objective = 0.0
        if self.backprop_optimizer:
            with torch.enable_grad():
                loss = self.model.training_loss(batch)
            loss.backward()  # type: ignore[no-untyped-call]
            objective = float(loss.detach()) * len(batch.targets)
        else:
            with torch.no_grad():
                batch.forward(batch.inputs)
        for step, rule in self.local_steps:
            rule_objective = apply_rule(step, rule, capture[step.module], batch.targets, progress, callbacks)
            if not self.backprop_optimizer:
                objective = rule_objective
        for optimizer in self.optimizers():
            optimizer.step()
        return objective


@dataclass(frozen=True)
class FeatureView:
    """What the supervised phase feeds and calls: ``forward(inputs_train[i])`` is the model's
    output for training image ``i`` (the model on images, or its head on cached features)."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    inputs_train: torch.Tensor
    inputs_test: torch.Tensor


def frozen_features(
    model: NeurosimModel, supervised: SupervisedPhase, x_train: torch.Tensor, x_test: torch.Tensor
) -> FeatureView:
    """The head of :meth:`NeurosimModel.frozen_split` on features computed once, in eval mode (in
    memory up to :data:`FEATURE_CACHE_BYTES`, else once per batch); the model itself if it has no
    split. Call it after the unsupervised phase: the features must not change any more."""
    split = model.frozen_split()
    if split is None:
        return FeatureView(model, x_train, x_test)
    features, head = split
    head_params = {id(p) for p in head.parameters()}
    if not all(id(p) in head_params for p in supervised.parameters()):
        raise RuntimeError(f"{type(model).__name__}.frozen_split: a supervised step is outside the head")
    width = in_eval_batches(model, features, x_train[:1]).shape[1]
    if (len(x_train) + len(x_test)) * width * 4 > FEATURE_CACHE_BYTES:
        return FeatureView(lambda x: head(in_eval_batches(model, features, x)), x_train, x_test)
    return FeatureView(
        head, in_eval_batches(model, features, x_train), in_eval_batches(model, features, x_test)
    )
