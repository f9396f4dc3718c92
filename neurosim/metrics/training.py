"""Exact operation counts of training, per presented training sample, by phase.

A fit trains in up to three phases (:meth:`~neurosim.training.trainer.Trainer.presented_samples`
says how many samples each presents):

* ``unsupervised``: each unlabelled image trains every unsupervised layer once (the forward pass up
  to the layer, the rule's own evaluation of the layer and its plasticity, the weight update);
* ``features``: a frozen feature extractor evaluated once per labelled image (inference work);
* ``supervised``: one trainer step per batch: the forward pass in training mode, the backward pass
  of backprop, the local rules' evaluation and plasticity, and the optimiser steps.

The steps are those of :class:`~neurosim.training.trainer.Trainer` itself, replayed on a copy of the
model under :func:`~neurosim.metrics.operations.count_operations` with ``training=True``, so the
counts follow the trainer's own code paths (a single local rule's forward pass stops at its layer;
a cached feature extractor is not run again per step). On top of the forward and backward counts
(see :mod:`neurosim.metrics.operations`), per layer:

* ``plasticity_updates``: the rule's per-sample synapse changes (``last_updates`` of the rule,
  :mod:`neurosim.rules.base`), each a read-modify-write of a synapse (``weight_reads`` and
  ``weight_writes`` one each). A rule that evaluates its layer itself (a perceptron's responses,
  Hebbian currents, S-cell responses) is charged one forward pass of the layer on the batch; a
  layer that simulates its own learning (Diehl & Cook) reports that simulation
  (``learning_operation_counts``).
* ``weight_updates``: weight values an optimiser step changes (every value with a gradient under
  Adam or momentum, whose state moves it; under plain SGD those with a non-zero one), each with
  :func:`optimiser_work` arithmetic (``optimizer_macs``) and memory: the weight and its gradient
  read, the weight written, and the optimiser's state (Adam: 2 values, SGD with momentum: 1) read
  and written, in weight-sized memory.

As at inference, a weight that is exactly 0 is an absent synapse (zero-skipping hardware skips
it): a perceptron's readout starts from zero weights, so its first evaluations cost nothing.

Counts are divided by the samples the measured steps presented. They are exact for those steps,
which run on the *stored, trained* model: they are the cost of training at the end of the fit. A
rule that learns from its mistakes (the perceptron, the Neocognitron's top layer) or a spiking
layer whose activity changes while it learns costs differently early in training. Evaluation at
checkpoints is not training and is not counted.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from neurosim.config import TrainingConfig
from neurosim.metrics.counts import LayerCounts, OperationCounts
from neurosim.metrics.operations import count_operations
from neurosim.tasks import Task
from neurosim.training.trainer import Trainer, epoch_order

PHASES = ("unsupervised", "features", "supervised")


@dataclass(frozen=True)
class PhaseLedger:
    """One phase's counts: ``per_layer`` (:meth:`OperationCounts.per_sample`: per presented
    sample), each layer's ``kinds`` and the ``samples`` the measured steps presented."""

    per_layer: dict[str, dict[str, float]]
    kinds: dict[str, str]
    samples: int


def optimiser_work(optimizer: torch.optim.Optimizer, group: dict) -> tuple[int, int]:
    """``(arithmetic, state values)`` per updated weight value of one optimiser step.

    Arithmetic in MAC-equivalents: SGD ``w -= lr g`` is 1, plus 1 for momentum
    (``b = mu b + g``) and 1 for weight decay (``g += lambda w``). Adam is 8: the first moment
    (2: ``beta1 m + (1 - beta1) g``), the second (3, with ``g^2``), and the step (3: square root,
    division, scaled subtraction); its bias corrections are per step, not per value.
    """
    decay = 1 if group.get("weight_decay") else 0
    if isinstance(optimizer, torch.optim.Adam):
        return 8 + decay, 2
    momentum = 1 if group.get("momentum") else 0
    return 1 + momentum + decay, momentum


class _Recorder:
    """Adds what the hooks of :func:`count_operations` cannot see: rule work and optimiser steps."""

    def __init__(self, model: nn.Module, counts: OperationCounts) -> None:
        self.counts = counts
        self.names = {module: name for name, module in model.named_modules()}
        self.owner = {id(p): name for name, m in model.named_modules() for p in m.parameters(recurse=False)}
        self.called: set[nn.Module] = set()
        self.handles = [
            module.register_forward_hook(lambda module, inputs, output: self.called.add(module))
            for module in model.modules()
        ]

    def layer(self, name: str) -> LayerCounts:
        return self.counts.layers.setdefault(name, LayerCounts("dense"))

    def watch_rule(self, rule: object) -> None:
        """Wrap ``rule.write_grads`` to book its evaluation of the layer and its plasticity."""
        write_grads: Callable = rule.write_grads

        def counted(module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
            self.called.discard(module)
            objective = write_grads(module, pre, target, progress=progress)
            if module not in self.called:  # the rule evaluated the layer itself
                if hasattr(module, "learning_operation_counts"):
                    layer = self.counts.layers.setdefault(
                        self.names[module], LayerCounts(module.operation_kind)
                    )
                    for key, value in module.learning_operation_counts().items():
                        layer.add(key, value)
                else:
                    with torch.no_grad():
                        module(pre)
            layer = self.layer(self.names[module])
            layer.plasticity_updates += rule.last_updates
            layer.weight_reads += rule.last_updates
            layer.weight_writes += rule.last_updates
            return objective

        rule.write_grads = counted

    def watch_optimiser(self, optimizer: torch.optim.Optimizer | None) -> None:
        if optimizer is None:
            return

        def before_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
            for group in optimizer.param_groups:
                arithmetic, state = optimiser_work(optimizer, group)
                for parameter in group["params"]:
                    if parameter.grad is None:
                        continue
                    # Adam and momentum move every value (their state carries on); plain SGD
                    # changes only the values with a non-zero gradient.
                    dense = isinstance(optimizer, torch.optim.Adam) or group.get("momentum")
                    changed = parameter.numel() if dense else int(torch.count_nonzero(parameter.grad))
                    layer = self.layer(self.owner[id(parameter)])
                    layer.weight_updates += changed
                    layer.optimizer_macs += changed * arithmetic
                    layer.weight_reads += changed * (2 + state)
                    layer.weight_writes += changed * (1 + state)

        self.handles.append(optimizer.register_step_pre_hook(before_step))

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


def _phase(counts: OperationCounts, samples: int) -> PhaseLedger:
    counts.samples = samples
    kinds = {name: layer.kind for name, layer in counts.layers.items()}
    return PhaseLedger(counts.per_sample(), kinds, samples)


def _measured(available: int, n_samples: int, batch: int) -> int:
    """Samples a phase is measured on: at least ``n_samples`` and one batch, in whole batches, at
    most the ``available`` ones."""
    return min(available, batch * math.ceil(max(n_samples, batch) / batch))


def _batches(order: torch.Tensor, batch: int) -> list[torch.Tensor]:
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def training_ledger(
    model: nn.Module,
    task: Task,
    config: TrainingConfig,
    seed: int,
    n_per_class: int | None = None,
    subset_seed: int = 0,
    n_samples: int = 256,
) -> tuple[dict[str, PhaseLedger], dict[str, int]]:
    """Per-sample training counts of each phase a fit of ``model`` has, and the samples each phase
    presents in the fit (:meth:`Trainer.presented_samples`).

    A phase that presents no sample is left out. Each is measured on at least ``n_samples``
    samples, in whole batches of its configured size (so the optimiser's work per sample is the
    fit's). ``model`` is unchanged: the steps run on a deep copy, with a trainer built as the fit
    built its own (on the model's device), and torch's generator seeded by ``seed`` (the caller's
    state is restored).
    """
    model = copy.deepcopy(model)
    device = next(iter(model.parameters()), torch.empty(0)).device
    trainer = Trainer(model, task, config, seed, device, n_per_class, subset_seed)
    presented = trainer.presented_samples()
    ledgers: dict[str, PhaseLedger] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        if presented["unsupervised"]:
            ledgers["unsupervised"] = _unsupervised(trainer, model, n_samples)
        batch = trainer.config.batch_size
        count = _measured(len(trainer.y_train), n_samples, batch)
        chosen = epoch_order(seed, 0, len(trainer.y_train))[:count].to(device)
        trainer.x_train, trainer.y_train = trainer.x_train[chosen], trainer.y_train[chosen]
        trainer.x_test = trainer.x_test[:1]  # the cached features of the test set are not training
        trainer.inputs_train, trainer.inputs_test = trainer.x_train, trainer.x_test
        if presented["features"]:
            features = model.frozen_split()[0]
            model.eval()
            with count_operations(model) as counts:
                features(trainer.x_train)
            ledgers["features"] = _phase(counts, count)
        ledgers["supervised"] = _supervised(trainer, model, batch)
    return ledgers, {phase: presented[phase] for phase in ledgers}


def _unsupervised(trainer: Trainer, model: nn.Module, n_samples: int) -> PhaseLedger:
    batch = trainer.unsupervised_batch
    count = _measured(len(trainer.x_pool), n_samples, batch)
    chosen = epoch_order(trainer.seed, 0, len(trainer.x_pool))[:count].to(trainer.x_pool.device)
    model.train()
    with count_operations(model, training=True) as counts:
        recorder = _Recorder(model, counts)
        try:
            recorder.watch_optimiser(trainer.unsupervised_optimizer)
            for step, rule in trainer.unsupervised_steps:
                recorder.watch_rule(rule)
                for index in _batches(chosen, batch):
                    pre = trainer._input_of(step.module, trainer.x_pool[index])
                    trainer.unsupervised_optimizer.zero_grad(set_to_none=True)
                    rule.write_grads(step.module, pre, None, progress=0.0)
                    trainer.unsupervised_optimizer.step()
        finally:
            recorder.close()
    return _phase(counts, count)


def _supervised(trainer: Trainer, model: nn.Module, batch: int) -> PhaseLedger:
    trainer._use_frozen_features()
    hooks = trainer._capture_inputs()
    model.train()
    with count_operations(model, training=True) as counts:
        recorder = _Recorder(model, counts)
        try:
            recorder.watch_optimiser(trainer.backprop_optimizer)
            recorder.watch_optimiser(trainer.local_optimizer)
            for _, rule in trainer.local_steps:
                recorder.watch_rule(rule)
            for index in _batches(torch.arange(len(trainer.y_train)), batch):
                trainer._train_step(trainer.inputs_train[index], trainer.y_train[index])
        finally:
            recorder.close()
            for hook in hooks:
                hook.remove()
    return _phase(counts, len(trainer.y_train))
