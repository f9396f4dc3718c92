"""Exact operation counts of training, per presented training sample, by phase.

A fit trains in up to three phases (:meth:`~neurosim.training.trainer.Trainer.presented_samples`
says how many samples each presents):

* ``unsupervised``: each unlabelled image trains every unsupervised layer once (the forward pass up
  to the layer, the rule's own evaluation of the layer and its plasticity, the weight update);
* ``features``: a frozen feature extractor evaluated once per labelled image (inference work);
* ``supervised``: one trainer step per batch: the forward pass in training mode, the backward pass
  of backprop, the local rules' evaluation and plasticity, and the optimiser steps.

The steps are the trainer's own phase steps (:mod:`neurosim.training.phases`), run on a copy of the
model with an :class:`OperationLedger` subscribed to them as a training callback, under
:func:`~neurosim.metrics.operations.count_operations` with ``training=True``: the counts follow
the trainer's own code paths (a single local rule's forward pass stops at its layer; a cached
feature extractor is not run again per step), and a change to a step reaches the ledger by
construction. On top of the forward and backward counts
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

import contextlib
import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from neurosim.config import TrainingConfig
from neurosim.metrics.counts import LayerCounts, OperationCounts
from neurosim.metrics.layer_counters import SimulatesLearning, book_conductance_neurons
from neurosim.metrics.neuron_operations import SimulatesConductanceNeurons
from neurosim.metrics.operations import count_operations
from neurosim.models.base import TrainingBatch
from neurosim.rules.base import LocalRule
from neurosim.tasks import Task
from neurosim.training.callbacks import TrainingCallback
from neurosim.training.phases import FeatureView
from neurosim.training.schedule import epoch_order
from neurosim.training.trainer import Trainer

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


class OperationLedger(TrainingCallback):
    """Counts the operations of each phase of a fit while it runs, as a training callback.

    From ``on_phase_start`` to ``on_phase_end`` the model runs under :func:`count_operations`
    (forward and backward passes); the ledger adds what those hooks cannot see: each local rule's
    evaluation of its layer and its plasticity (``on_rule_start`` / ``on_rule_end``) and each
    optimiser step (a step pre-hook on the phase's ``optimizers``). ``phases[name]`` then holds
    the phase's :class:`OperationCounts`.

    It counts everything the model does between those events: subscribed to a whole
    :meth:`Trainer.fit`, it would also count the checkpoint evaluations inside the supervised
    phase, which are not training. :func:`training_ledger` therefore drives the trainer's own phase
    steps on the measured batches itself, with this observer subscribed.
    """

    def __init__(self, model: nn.Module, optimizers: dict[str, list[torch.optim.Optimizer]]) -> None:
        self.model, self.optimizers = model, optimizers
        self.names = {module: name for name, module in model.named_modules()}
        self.owner = {id(p): name for name, m in model.named_modules() for p in m.parameters(recurse=False)}
        self.phases: dict[str, OperationCounts] = {}
        self.counts = OperationCounts()
        self.called: set[nn.Module] = set()
        self._open: contextlib.ExitStack | None = None

    def layer(self, name: str) -> LayerCounts:
        return self.counts.layers.setdefault(name, LayerCounts("dense"))

    def on_phase_start(self, phase: str) -> None:
        stack = contextlib.ExitStack()
        self.counts = stack.enter_context(count_operations(self.model, training=True))
        for module in self.model.modules():
            handle = module.register_forward_hook(lambda module, inputs, output: self.called.add(module))
            stack.callback(handle.remove)
        for optimizer in self.optimizers.get(phase, []):
            stack.callback(optimizer.register_step_pre_hook(self._book_step).remove)
        self._open = stack

    def on_phase_end(self, phase: str) -> None:
        assert self._open is not None
        self._open.close()
        self._open = None
        self.phases[phase] = self.counts

    def on_rule_start(self, module: nn.Module) -> None:
        self.called.discard(module)

    def on_rule_end(self, module: nn.Module, rule: LocalRule, pre: torch.Tensor) -> None:
        """Book the rule's evaluation of its layer (unless the forward pass did it) and its
        plasticity: one read-modify-write of a synapse per update."""
        if module not in self.called:  # the rule evaluated the layer itself
            if isinstance(module, SimulatesLearning):
                layer = self.counts.layers.setdefault(self.names[module], LayerCounts(module.operation_kind))
                for key, value in module.learning_operation_counts().items():
                    layer.add(key, value)
                if isinstance(module, SimulatesConductanceNeurons):
                    book_conductance_neurons(layer, module, len(pre), learning=True)
            else:
                with torch.no_grad():
                    module(pre)
        layer = self.layer(self.names[module])
        layer.plasticity_updates += rule.last_updates
        layer.weight_reads += rule.last_updates
        layer.weight_writes += rule.last_updates

    def _book_step(self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
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
    subset_seed: int | str = 0,
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
    phases = {"unsupervised": trainer.unsupervised, "supervised": trainer.supervised}
    ledger = OperationLedger(model, {name: phase.optimizers() for name, phase in phases.items()})
    ledgers: dict[str, PhaseLedger] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        if presented["unsupervised"]:
            ledgers["unsupervised"] = _unsupervised(trainer, ledger, n_samples)
        data = trainer.data
        count = _measured(len(data.y_train), n_samples, config.batch_size)
        chosen = epoch_order(seed, 0, len(data.y_train))[:count].to(device)
        if presented["features"]:
            features = model.frozen_split()[0]
            model.eval()
            with count_operations(model) as counts:
                features(data.x_train[chosen])
            ledgers["features"] = _phase(counts, count)
        # The cached features of the test set are not training: one test image keeps them cheap.
        view = trainer.feature_view(data.x_train[chosen], data.x_test[:1])
        y = data.y_train[chosen]
        ledgers["supervised"] = _supervised(trainer, ledger, view, y, config.batch_size)
    return ledgers, {phase: presented[phase] for phase in ledgers}


def _unsupervised(trainer: Trainer, ledger: OperationLedger, n_samples: int) -> PhaseLedger:
    """Each unsupervised layer trained on the same first batches of the pool, at progress 0."""
    pool, batch = trainer.data.x_pool, trainer.unsupervised_batch
    count = _measured(len(pool), n_samples, batch)
    chosen = epoch_order(trainer.seed, 0, len(pool))[:count].to(pool.device)
    trainer.model.train()
    ledger.on_phase_start("unsupervised")
    for layer in range(len(trainer.unsupervised.steps)):
        for index in _batches(chosen, batch):
            trainer.unsupervised.step(layer, pool[index], 0.0, ledger)
    ledger.on_phase_end("unsupervised")
    return _phase(ledger.phases["unsupervised"], count)


def _supervised(
    trainer: Trainer, ledger: OperationLedger, view: FeatureView, y: torch.Tensor, batch: int
) -> PhaseLedger:
    """Supervised steps over the chosen labelled images, in whole batches, at progress 0."""
    trainer.model.train()
    with trainer.supervised.capture() as capture:
        ledger.on_phase_start("supervised")
        for index in _batches(torch.arange(len(y)), batch):
            step = TrainingBatch(view.inputs_train[index], y[index], view.forward)
            trainer.supervised.step(step, capture, 0.0, ledger)
        ledger.on_phase_end("supervised")
    return _phase(ledger.phases["supervised"], len(y))
