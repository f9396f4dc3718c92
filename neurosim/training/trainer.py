"""The trainer: one loop for backprop and local rules, with checkpoints and exact resume.

Each step: the model runs forward on a batch (forward hooks capture the input of every layer a
local rule trains); parameter groups bound to ``backprop`` get ``.grad`` from the cross-entropy
by autograd; every local rule writes ``-dw`` into its group's ``.grad``; then each optimiser
steps (Adam/SGD for backprop groups, SGD with lr = 1 for local rules, so ``w += dw``).

Models with an unsupervised phase (Hebbian layers, see :class:`~neurosim.models.base.PlanStep`)
first train those layers one after another, each for ``unsupervised_epochs`` passes over the
unlabelled pool (``unsupervised_pool``: the whole training split or the labelled subset), or for
``unsupervised_samples`` images, a budget that transfers across pool sizes. Their
rules receive no labels (``target=None``), and the forward pass stops at the layer being trained,
so later layers cost nothing. Then the supervised steps train as above on the labelled subset.

Determinism: the data order of epoch ``e`` is a permutation drawn from a generator seeded with
``(seed, e)``, so a run resumed at any checkpoint continues with the very batches an
uninterrupted run would see; model, optimiser and history are restored from the checkpoint. On
CPU the same seed gives bitwise-identical results.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neurosim.config import TrainingConfig
from neurosim.evaluation import accuracy, in_eval_batches, predict
from neurosim.models.base import NeurosimModel
from neurosim.models.convergence import Convergence
from neurosim.objectives import describe
from neurosim.results.history import History
from neurosim.results.storage import UnreadableFile, load_torch, quarantine, save_torch
from neurosim.rules import RULES
from neurosim.tasks import Task
from neurosim.training.divergence import (
    FitStatus,
    exploded_objective,
    nonfinite_objective,
    nonfinite_parameters,
)
from neurosim.training.schedule import checkpoint_steps, samples_seen, steps_per_epoch

log = logging.getLogger(__name__)

#: Frozen features (see NeurosimModel.frozen_split) up to this size are kept in memory for a fit.
FEATURE_CACHE_BYTES = 8 * 2**30
#: Training images shown to a model's convergence diagnostic (units that win an image).
CONVERGENCE_SAMPLE = 1000


class _StopForward(Exception):
    """Raised by a pre-hook once the input of the layer being trained is captured."""


@dataclass
class FitResult:
    """Everything a fit measured, ready to become a results Dataset."""

    history: History
    loss_kind: str
    confusion: torch.Tensor
    final_test_accuracy: float
    n_train: int
    unsupervised_seconds: float = 0.0
    """Wall time of the unsupervised phase (also included in ``history.wall_time``)."""
    status: FitStatus = field(default_factory=FitStatus)
    """Whether (and where, and why) the fit diverged; see :mod:`neurosim.training.divergence`."""
    convergence: Convergence | None = None
    """Whether the model's local rules learnt (``None``: nothing to check, or diverged); see
    :mod:`neurosim.models.convergence`."""


ProgressCallback = Callable[[int, int], None]


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The presentation order of epoch ``epoch`` (independent of device and of resumes)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


def scheduled_lr(config: TrainingConfig, step: int, total_steps: int) -> float:
    """Learning rate for step ``step`` (0-based) of ``total_steps``; a pure function, so resume is exact."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return config.lr


def _optimizer(params: list[torch.nn.Parameter], config: TrainingConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


#: Offset of the training stream of torch's global generator from a fit's seed (model
#: construction uses the seed itself, so the two streams differ).
TRAINING_STREAM = 7919


def read_checkpoint(path: str | Path) -> dict | None:
    """A fit's training checkpoint, or ``None`` if there is none. It is read with
    ``weights_only=True`` (tensors and plain containers, never code); an unreadable one is moved
    aside as ``*.corrupt`` with a warning, and training starts afresh."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = load_torch(path)
        if not isinstance(state, dict) or "step" not in state:
            raise UnreadableFile(path, "not a neurosim training checkpoint")
    except UnreadableFile as error:
        log.warning("%s; moved to %s, training starts afresh", error, quarantine(path))
        return None
    return state


class Trainer:
    """Fits one model on one task with one seed.

    Args:
        model: a :class:`NeurosimModel`, already on ``device``.
        task: the task (tensors on CPU; moved to ``device`` here).
        config: training budget and optimiser.
        seed: drives the data order (model initialisation is the caller's, see runner).
        device: where to train.
        n_per_class: labelled examples per class, or ``None`` for all.
        subset_seed: seed of the labelled subset.
    """

    def __init__(
        self,
        model: NeurosimModel,
        task: Task,
        config: TrainingConfig,
        seed: int,
        device: torch.device,
        n_per_class: int | None = None,
        subset_seed: int = 0,
    ) -> None:
        self.model, self.config, self.seed, self.device = model, config, seed, device
        indices = task.train_subset(n_per_class, subset_seed)
        self.x_train = task.x_train[indices].to(device)
        self.y_train = task.y_train[indices].to(device)
        self.x_test = task.x_test.to(device)
        self.y_test = task.y_test.to(device)
        self.n_classes = task.n_classes
        eval_order = torch.randperm(len(indices), generator=torch.Generator().manual_seed(0))
        self.train_eval_indices = eval_order[: config.train_eval_limit].to(device)

        plan = model.learning_plan()
        rules = {step.rule: RULES.get(step.rule) for step in plan}  # unknown rules list the valid ones
        supervised = [step for step in plan if step.phase == "supervised"]
        backprop_params = [p for s in supervised if s.rule == "backprop" for p in s.module.parameters()]
        self.backprop_optimizer = _optimizer(backprop_params, config) if backprop_params else None
        self.local_steps = [
            (step, rules[step.rule](**step.rule_options)) for step in supervised if step.rule != "backprop"
        ]
        self.unsupervised_steps = [
            (step, rules[step.rule](**step.rule_options)) for step in plan if step.phase == "unsupervised"
        ]
        local_params = [p for step, _ in self.local_steps for p in step.module.parameters()]
        # Local rules already include their learning rate in dw: w <- w - 1 * (-dw).
        self.local_optimizer = torch.optim.SGD(local_params, lr=1.0) if local_params else None
        unsupervised_params = [p for step, _ in self.unsupervised_steps for p in step.module.parameters()]
        # Plain SGD with lr = 1 and no momentum keeps no state, so checkpoints need not store it.
        self.unsupervised_optimizer = (
            torch.optim.SGD(unsupervised_params, lr=1.0) if unsupervised_params else None
        )
        for parameter in unsupervised_params:
            # Frozen for autograd: the supervised loss must never reach a layer its rule owns (and
            # the backward pass then stops at the readout).
            parameter.requires_grad_(False)
        self.loss_kind = model.loss_name if backprop_params else self.local_steps[0][1].objective
        describe(self.loss_kind)  # an objective nobody registered fails here, before any training
        if self.unsupervised_steps and config.unsupervised_pool == "all" and n_per_class is not None:
            self.x_pool = task.x_train.to(device)
        else:
            self.x_pool = self.x_train
        # What the supervised phase feeds and calls; see _use_frozen_features.
        self.forward: Callable = model
        self.inputs_train, self.inputs_test = self.x_train, self.x_test

    def _use_frozen_features(self) -> None:
        """After the unsupervised phase, train the head of :meth:`NeurosimModel.frozen_split` on
        features computed once (in memory up to ``FEATURE_CACHE_BYTES``, else once per batch)."""
        split = self.model.frozen_split()
        if split is None or not self.unsupervised_steps:
            return
        features, head = split
        head_params = {id(p) for p in head.parameters()}
        supervised = [p for step, _ in self.local_steps for p in step.module.parameters()]
        if self.backprop_optimizer:
            supervised += self.backprop_optimizer.param_groups[0]["params"]
        if not all(id(p) in head_params for p in supervised):
            raise RuntimeError(
                f"{type(self.model).__name__}.frozen_split: a supervised step is outside the head"
            )
        width = in_eval_batches(self.model, features, self.x_train[:1]).shape[1]
        if (len(self.x_train) + len(self.x_test)) * width * 4 > FEATURE_CACHE_BYTES:
            self.forward = lambda x: head(in_eval_batches(self.model, features, x))
            return
        self.inputs_train = in_eval_batches(self.model, features, self.x_train)
        self.inputs_test = in_eval_batches(self.model, features, self.x_test)
        self.forward = head

    def _state(self, step: int, history: History, elapsed: float, unsupervised: tuple[int, float]) -> dict:
        return {
            "step": step,
            "unsupervised_step": unsupervised[0],
            "unsupervised_seconds": unsupervised[1],
            "model": self.model.state_dict(),
            "backprop_optimizer": self.backprop_optimizer.state_dict() if self.backprop_optimizer else None,
            "local_optimizer": self.local_optimizer.state_dict() if self.local_optimizer else None,
            "history": history.__dict__,
            "elapsed": elapsed,
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def _restore(self, state: dict) -> tuple[int, History, float, tuple[int, float]]:
        self.model.load_state_dict(state["model"])
        if self.backprop_optimizer:
            self.backprop_optimizer.load_state_dict(state["backprop_optimizer"])
        if self.local_optimizer:
            self.local_optimizer.load_state_dict(state["local_optimizer"])
        if state.get("rng") is not None:  # checkpoints written before the stream was saved lack it
            torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        unsupervised = (state.get("unsupervised_step", 0), state.get("unsupervised_seconds", 0.0))
        return state["step"], History(**state["history"]), state["elapsed"], unsupervised

    @torch.no_grad()
    def _input_of(
        self, module: torch.nn.Module, x: torch.Tensor, forward: Callable | None = None
    ) -> torch.Tensor:
        """The input ``module`` receives when ``forward`` (the model) runs on ``x``; the forward
        pass stops there."""
        captured: list[torch.Tensor] = []

        def stop(_module: torch.nn.Module, inputs: tuple) -> None:
            captured.append(inputs[0].detach())
            raise _StopForward

        handle = module.register_forward_pre_hook(stop)
        try:
            (forward or self.model)(x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"the forward pass never reached the layer {type(module).__name__}")
        return captured[0]

    @property
    def unsupervised_batch(self) -> int:
        """Images per step of the unsupervised phase."""
        return self.config.unsupervised_batch_size or self.config.batch_size

    def unsupervised_per_layer(self) -> int:
        """Steps of the unsupervised phase per layer: ``unsupervised_epochs`` x the batches of one
        pass over the unlabelled pool (``N`` images, the last batch of a pass may be short), or the
        steps that present ``unsupervised_samples = S`` images in such passes: ``S // N`` whole
        passes and ``ceil((S mod N) / batch)`` steps of one more."""
        n, batch = len(self.x_pool), self.unsupervised_batch
        if self.config.unsupervised_samples:
            passes, rest = divmod(self.config.unsupervised_samples, n)
            return passes * steps_per_epoch(n, batch) + math.ceil(rest / batch)
        return self.config.unsupervised_epochs * steps_per_epoch(n, batch)

    def unsupervised_total(self) -> int:
        """Steps of the unsupervised phase: layers x steps per layer."""
        return len(self.unsupervised_steps) * self.unsupervised_per_layer()

    def _unsupervised_phase(
        self, done: int, spent: float, checkpoint_path: str | Path | None, progress: ProgressCallback | None
    ) -> tuple[int, float]:
        """Train the unsupervised layers (no labels), one after another; returns (steps, seconds).

        Each layer walks through passes over the pool (a fresh order per pass) for
        :meth:`unsupervised_per_layer` steps; a rule's ``progress`` is the share of the layer's
        passes begun before the current one (``epoch / epochs`` when the budget is in epochs, as
        the authors' per-epoch annealing).
        """
        n, batch = len(self.x_pool), self.unsupervised_batch
        per_epoch = steps_per_epoch(n, batch)
        per_layer = self.unsupervised_per_layer()
        total = self.unsupervised_total()
        started = time.perf_counter() - spent
        self.model.train()
        order, order_key = None, None
        while done < total:
            layer, within_layer = divmod(done, per_layer)
            epoch, within = divmod(within_layer, per_epoch)
            if order_key != (layer, epoch):
                # A stream of its own per layer, so the supervised phase's data order is unchanged.
                order = epoch_order(self.seed + 7919 * (layer + 1), epoch, n).to(self.device)
                order_key = (layer, epoch)
            step, rule = self.unsupervised_steps[layer]
            pre = self._input_of(step.module, self.x_pool[order[within * batch : (within + 1) * batch]])
            self.unsupervised_optimizer.zero_grad(set_to_none=True)
            rule.write_grads(step.module, pre, None, progress=epoch * per_epoch / per_layer)
            self.unsupervised_optimizer.step()
            done += 1
            if progress:
                progress(done, total)
            if checkpoint_path is not None and (done % per_epoch == 0):
                spent = time.perf_counter() - started
                save_torch(checkpoint_path, self._state(0, History(), spent, (done, spent)))
        return done, time.perf_counter() - started

    def _capture_inputs(self) -> list[torch.utils.hooks.RemovableHandle]:
        """Forward hooks that keep the latest input of every layer a local rule trains."""

        def capture_input(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self._captured[id(module)] = inputs[0].detach()

        self._captured: dict[int, torch.Tensor] = {}
        return [step.module.register_forward_hook(capture_input) for step, _ in self.local_steps]

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, progress: float = 0.0) -> float:
        """One step (the input hooks of :meth:`_capture_inputs` must be in place); returns the
        batch's summed training objective."""
        for optimizer in (self.backprop_optimizer, self.local_optimizer):
            if optimizer:
                optimizer.zero_grad(set_to_none=True)
        if self.backprop_optimizer is None and len(self.local_steps) == 1:
            # One local rule and no loss: nothing needs the layers above the rule's own, so the
            # forward pass stops at its input (for a top layer that matches every input against
            # thousands of stored cells, this halves the work).
            step, rule = self.local_steps[0]
            pre = self._input_of(step.module, x, self.forward)
            objective = rule.write_grads(step.module, pre, y, progress=progress)
            self.local_optimizer.step()
            return objective
        with torch.set_grad_enabled(self.backprop_optimizer is not None):
            logits = self.forward(x)
        objective = 0.0
        if self.backprop_optimizer:
            loss = self.model.loss(logits, y)
            loss.backward()
            objective = float(loss.detach()) * len(y)
        for step, rule in self.local_steps:
            rule_objective = rule.write_grads(
                step.module, self._captured[id(step.module)], y, progress=progress
            )
            if not self.backprop_optimizer:
                objective = rule_objective
        for optimizer in (self.backprop_optimizer, self.local_optimizer):
            if optimizer:
                optimizer.step()
        return objective

    def _grid_point(self, history: History, step: int, per_epoch: int) -> None:
        """Append where checkpoint ``step`` sits (steps, samples seen, epochs) to ``history``."""
        history.step.append(step)
        history.samples_seen.append(samples_seen(step, len(self.y_train), self.config.batch_size))
        history.epoch.append(step / per_epoch)

    def _record(self, history: History, step: int, per_epoch: int, train_objective: float | None) -> None:
        """Append one checkpoint's measurements (all but the wall time) to ``history``.

        ``train_objective = None``: no training step since the last checkpoint (a rule past its
        ``supervised_passes``), so the model is the one last measured: its accuracies are repeated,
        not recomputed, and the objective is NaN.
        """
        self._grid_point(history, step, per_epoch)
        if train_objective is None and history.test_accuracy:
            history.test_accuracy.append(history.test_accuracy[-1])
            history.train_accuracy.append(history.train_accuracy[-1])
            history.train_loss.append(float("nan"))
            return
        history.test_accuracy.append(accuracy(self.model, self.inputs_test, self.y_test, self.forward))
        subset = self.train_eval_indices
        history.train_accuracy.append(
            accuracy(self.model, self.inputs_train[subset], self.y_train[subset], self.forward)
        )
        history.train_loss.append(float("nan") if train_objective is None else train_objective)

    def _diverged(self, history: History, objective: float | None, step: int) -> FitStatus | None:
        """Rules 2 and 3 of :mod:`~neurosim.training.divergence` at a checkpoint."""
        first = next((v for v in history.train_loss if not math.isnan(v)), objective)
        if objective is not None and first is not None:
            exploded = exploded_objective(objective, first, step)
            if exploded is not None:
                return exploded
        return nonfinite_parameters(self.model, step)

    def _diverged_result(
        self,
        history: History,
        status: FitStatus,
        evaluate_at: set[int],
        per_epoch: int,
        unsupervised: tuple[int, float],
    ) -> FitResult:
        """The result of a diverged fit: the checkpoints before the divergence as measured, the
        rest of the shared checkpoint grid NaN (so members still line up), no final accuracy."""
        for step in sorted(s for s in evaluate_at if s > (history.step[-1] if history.step else 0)):
            self._grid_point(history, step, per_epoch)
            for values in (history.test_accuracy, history.train_accuracy, history.train_loss):
                values.append(float("nan"))
            history.wall_time.append(float("nan"))
        return FitResult(
            history=history,
            loss_kind=self.loss_kind,
            confusion=torch.zeros(self.n_classes, self.n_classes, dtype=torch.int64),
            final_test_accuracy=float("nan"),
            n_train=len(self.y_train),
            unsupervised_seconds=unsupervised[1],
            status=status,
        )

    def fit(
        self, checkpoint_path: str | Path | None = None, progress: ProgressCallback | None = None
    ) -> FitResult:
        """Train for the configured epochs, evaluating (and checkpointing) at checkpoint steps.

        If ``checkpoint_path`` holds a checkpoint of this fit, training resumes from it and
        finished work is not repeated.

        Draws from torch's global generator during training (dropout masks) come from a stream
        seeded by the fit's seed, and its state is checkpointed, so a fit gives the same result
        whatever ran before it in the process, and a resumed fit the same as an uninterrupted one.
        The caller's generator state is restored afterwards.
        """
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed * 1_000_003 + TRAINING_STREAM)
            return self._fit(checkpoint_path, progress)

    def epochs(self) -> tuple[int, int]:
        """``(epochs, learning_epochs)`` of the supervised phase: passes over the labelled data, and
        those in which the model learns."""
        epochs = max(self.config.epochs, math.ceil(self.config.min_samples_seen / len(self.y_train)))
        # A rule defined by a fixed number of presentations learns only in its first epochs; the
        # checkpoint grid stays the shared one, so the members' curves line up.
        return epochs, min(epochs, self.model.supervised_passes or epochs)

    def presented_samples(self) -> dict[str, int]:
        """Training samples a fit presents in each phase.

        ``unsupervised``: the images each unsupervised layer is presented (its passes over the
        unlabelled pool, or ``unsupervised_samples``; each presentation trains every unsupervised
        layer once); ``features``: the labelled images, once, when a frozen feature
        extractor is cached; ``supervised``: the learning epochs over the labelled set.
        """
        cached = bool(self.unsupervised_steps) and self.model.frozen_split() is not None
        unsupervised = samples_seen(self.unsupervised_per_layer(), len(self.x_pool), self.unsupervised_batch)
        return {
            "unsupervised": unsupervised if self.unsupervised_steps else 0,
            "features": len(self.y_train) if cached else 0,
            "supervised": self.epochs()[1] * len(self.y_train),
        }

    def _fit(self, checkpoint_path: str | Path | None, progress: ProgressCallback | None) -> FitResult:
        n, batch = len(self.y_train), self.config.batch_size
        epochs, learning_epochs = self.epochs()
        per_epoch = steps_per_epoch(n, batch)
        total = per_epoch * epochs
        evaluate_at = set(checkpoint_steps(n, batch, epochs, self.config.n_checkpoints))
        step, history, elapsed, unsupervised = 0, History(), 0.0, (0, 0.0)
        state = read_checkpoint(checkpoint_path) if checkpoint_path is not None else None
        if state is not None:
            step, history, elapsed, unsupervised = self._restore(state)
            log.info("resuming from step %d of %d (%s)", step, total, checkpoint_path)
        if unsupervised[0] < self.unsupervised_total():
            unsupervised = self._unsupervised_phase(*unsupervised, checkpoint_path, progress)
            elapsed = unsupervised[1]
        computing = time.perf_counter()
        self._use_frozen_features()
        elapsed += time.perf_counter() - computing  # (recomputed, and counted again, after a resume)
        status = nonfinite_parameters(self.model, 0) if self.unsupervised_steps else None
        hooks = self._capture_inputs()
        try:
            self.model.train()
            objective_sum, objective_count = 0.0, 0
            started = time.perf_counter() - elapsed
            order = None
            while step < total and status is None:
                epoch, within = divmod(step, per_epoch)
                if epoch < learning_epochs:
                    if order is None or within == 0:
                        order = epoch_order(self.seed, epoch, n).to(self.device)
                    index = order[within * batch : (within + 1) * batch]
                    if self.backprop_optimizer:
                        for group in self.backprop_optimizer.param_groups:
                            group["lr"] = scheduled_lr(self.config, step, total)
                    objective = self._train_step(
                        self.inputs_train[index], self.y_train[index], epoch / epochs
                    )
                    status = nonfinite_objective(objective, step + 1)
                    objective_sum += objective
                    objective_count += len(index)
                step += 1
                if progress:
                    progress(step, total)
                if step in evaluate_at and status is None:
                    objective = objective_sum / objective_count if objective_count else None
                    status = self._diverged(history, objective, step)
                    if status is not None:
                        break
                    self._record(history, step, per_epoch, objective)
                    history.wall_time.append(time.perf_counter() - started)
                    objective_sum, objective_count = 0.0, 0
                    if checkpoint_path is not None:
                        state = self._state(step, history, history.wall_time[-1], unsupervised)
                        save_torch(checkpoint_path, state)
        finally:
            for hook in hooks:
                hook.remove()
        if status is not None:
            return self._diverged_result(history, status, evaluate_at, per_epoch, unsupervised)
        predictions = predict(self.model, self.inputs_test, self.forward)
        confusion = torch.zeros(self.n_classes, self.n_classes, dtype=torch.int64)
        pairs = (self.y_test.cpu() * self.n_classes + predictions.cpu()).bincount(minlength=self.n_classes**2)
        confusion += pairs.reshape(self.n_classes, self.n_classes)
        return FitResult(
            history=history,
            loss_kind=self.loss_kind,
            confusion=confusion,
            final_test_accuracy=float(confusion.diagonal().sum() / confusion.sum()),
            n_train=n,
            unsupervised_seconds=unsupervised[1],
            convergence=self.convergence(),
        )

    @torch.no_grad()
    def convergence(self) -> Convergence | None:
        """The model's convergence diagnostic, in eval mode, on up to :data:`CONVERGENCE_SAMPLE`
        training images (the train-accuracy sample, fixed across seeds)."""
        sample = self.x_train[self.train_eval_indices[:CONVERGENCE_SAMPLE]]
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model.convergence(sample)
        finally:
            self.model.train(was_training)
