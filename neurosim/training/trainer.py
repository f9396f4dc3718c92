"""The trainer: one fit of one model, its phases in order, with checkpoints and exact resume.

The phases themselves are :mod:`neurosim.training.phases`. A supervised step: the model runs
forward on a batch (forward hooks capture the input of every layer a local rule trains);
parameter groups bound to ``backprop`` get ``.grad`` from the model's
:meth:`~neurosim.models.base.NeurosimModel.training_loss` (cross-entropy unless the model says
otherwise) by autograd; every local rule writes ``-dw`` into its group's ``.grad``; then each
optimiser steps (Adam/SGD for backprop groups, SGD with lr = 1 for local rules, so ``w += dw``).

Models with an unsupervised phase (:class:`~neurosim.models.base.PlanStep` ``phase =
"unsupervised"``) first train those steps one after another, each for ``unsupervised_epochs``
passes over the unlabelled pool (``unsupervised_pool``: the whole training split or the labelled
subset), or for ``unsupervised_samples`` images, a budget that transfers across pool sizes. A
local rule receives no labels (``target=None``) and the forward pass stops at its layer; a step
bound to ``backprop`` minimises the model's unlabelled ``training_loss``. Then the supervised
steps train on the labelled subset. Observers (:mod:`neurosim.training.callbacks`) see every
phase, step and checkpoint.

Determinism: the data order of epoch ``e`` is a permutation drawn from a generator seeded with
``(seed, e)``, so a run resumed at any checkpoint continues with the very batches an
uninterrupted run would see; model, optimisers and history are restored from the checkpoint. On
CPU the same seed gives bitwise-identical results.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neurosim.config import TrainingConfig, resolve_subset_seed
from neurosim.models.base import NeurosimModel, TrainingBatch
from neurosim.models.convergence import Convergence
from neurosim.objectives import describe
from neurosim.results.history import History
from neurosim.results.storage import save_torch
from neurosim.rules import RULES
from neurosim.tasks import Task
from neurosim.training.callbacks import Callbacks, ProgressReport, TrainingCallback
from neurosim.training.checkpoint import Progress, checkpoint_state, read_checkpoint, restore
from neurosim.training.divergence import FitStatus, nonfinite_objective, nonfinite_parameters
from neurosim.training.phases import (
    FeatureView,
    SupervisedPhase,
    UnsupervisedPhase,
    UnsupervisedSchedule,
    check_plan,
    frozen_features,
)
from neurosim.training.recording import CurveRecorder, FitData
from neurosim.training.schedule import (
    checkpoint_steps,
    epoch_order,
    samples_seen,
    scheduled_lr,
    steps_per_epoch,
)

log = logging.getLogger(__name__)

#: Training images shown to a model's convergence diagnostic (units that win an image).
CONVERGENCE_SAMPLE = 1000
#: Offset of the training stream of torch's global generator from a fit's seed (model
#: construction uses the seed itself, so the two streams differ).
TRAINING_STREAM = 7919

ProgressCallback = Callable[[int, int], None]


@dataclass
class FitResult:
    """Everything a fit measured, ready to become a results Dataset."""

    history: History
    loss_kind: str
    confusion: torch.Tensor
    final_test_accuracy: float
    n_train: int
    test_prediction: torch.Tensor | None = None
    """``[N]`` the class predicted for each test image after training (-1 each when diverged)."""
    test_label: torch.Tensor | None = None
    """``[N]`` each test image's true class."""
    unsupervised_seconds: float = 0.0
    """Wall time of the unsupervised phase (also included in ``history.wall_time``)."""
    status: FitStatus = field(default_factory=FitStatus)
    """Whether (and where, and why) the fit diverged; see :mod:`neurosim.training.divergence`."""
    convergence: Convergence | None = None
    """Whether the model's local rules learnt (``None``: nothing to check, or diverged); see
    :mod:`neurosim.models.convergence`."""


class Trainer:
    """Fits one model on one task with one seed.

    Args:
        model: a :class:`NeurosimModel`, already on ``device``.
        task: the task (tensors on CPU; moved to ``device`` here).
        config: training budget and optimiser.
        seed: drives the data order (model initialisation is the caller's, see runner).
        device: where to train.
        n_per_class: labelled examples per class, or ``None`` for all.
        subset_seed: seed of the labelled subset, or ``"seed"`` for ``seed``
            (:func:`~neurosim.config.resolve_subset_seed`).

    Attributes:
        data: the fit's tensors (:class:`~neurosim.training.recording.FitData`).
        supervised, unsupervised: the phases (:mod:`neurosim.training.phases`).
    """

    def __init__(
        self,
        model: NeurosimModel,
        task: Task,
        config: TrainingConfig,
        seed: int,
        device: torch.device,
        n_per_class: int | None = None,
        subset_seed: int | str = 0,
    ) -> None:
        self.model, self.config, self.seed, self.device = model, config, seed, device
        #: The seed the labelled subset was drawn with.
        self.subset_seed = resolve_subset_seed(subset_seed, seed)
        plan = model.learning_plan()
        for step in plan:
            RULES.get(step.rule)  # an unknown rule lists the valid ones before anything is built
        check_plan(model, plan)
        self.supervised = SupervisedPhase(model, plan, config)
        self.unsupervised = UnsupervisedPhase(model, plan, config)
        self.loss_kind = self.supervised.objective_name
        describe(self.loss_kind)  # an objective nobody registered fails here, before any training
        pool_is_all = bool(self.unsupervised.steps) and config.unsupervised_pool == "all"
        self.data = FitData.of(
            task, device, n_per_class, self.subset_seed, config.train_eval_limit, pool_is_all
        )
        per_epoch = steps_per_epoch(len(self.data.y_train), config.batch_size)
        #: Measures the learning curve at the checkpoint grid, and the final confusion.
        self.recorder = CurveRecorder(model, self.data, config.batch_size, per_epoch)

    @property
    def unsupervised_batch(self) -> int:
        """Images per step of the unsupervised phase."""
        return self.config.unsupervised_batch_size or self.config.batch_size

    def unsupervised_per_layer(self) -> int:
        """Steps of the unsupervised phase per layer: ``unsupervised_epochs`` x the batches of one
        pass over the unlabelled pool (``N`` images, the last batch of a pass may be short), or the
        steps that present ``unsupervised_samples = S`` images in such passes: ``S // N`` whole
        passes and ``ceil((S mod N) / batch)`` steps of one more."""
        n, batch = len(self.data.x_pool), self.unsupervised_batch
        if self.config.unsupervised_samples:
            passes, rest = divmod(self.config.unsupervised_samples, n)
            return passes * steps_per_epoch(n, batch) + math.ceil(rest / batch)
        return self.config.unsupervised_epochs * steps_per_epoch(n, batch)

    def unsupervised_total(self) -> int:
        """Steps of the unsupervised phase: layers x steps per layer."""
        return len(self.unsupervised.steps) * self.unsupervised_per_layer()

    def epochs(self) -> tuple[int, int]:
        """``(epochs, learning_epochs)`` of the supervised phase: passes over the labelled data, and
        those in which the model learns."""
        n = len(self.data.y_train)
        epochs = max(self.config.epochs, math.ceil(self.config.min_samples_seen / n))
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
        has_unsupervised = bool(self.unsupervised.steps)
        n_pool, n_train = len(self.data.x_pool), len(self.data.y_train)
        unsupervised = samples_seen(self.unsupervised_per_layer(), n_pool, self.unsupervised_batch)
        return {
            "unsupervised": unsupervised if has_unsupervised else 0,
            "features": n_train if has_unsupervised and self.model.frozen_split() is not None else 0,
            "supervised": self.epochs()[1] * n_train,
        }

    def feature_view(self, x_train: torch.Tensor, x_test: torch.Tensor) -> FeatureView:
        """What the supervised phase feeds and calls after the unsupervised phase: cached frozen
        features and the model's head (:func:`~neurosim.training.phases.frozen_features`), or
        the model on the images."""
        if not self.unsupervised.steps:
            return FeatureView(self.model, x_train, x_test)
        return frozen_features(self.model, self.supervised, x_train, x_test)

    def fit(
        self,
        checkpoint_path: str | Path | None = None,
        progress: ProgressCallback | None = None,
        callbacks: Sequence[TrainingCallback] = (),
        snapshot_path: str | Path | None = None,
    ) -> FitResult:
        """Train for the configured budget, measuring (and checkpointing) at checkpoint steps.

        If ``checkpoint_path`` holds a checkpoint of this fit, training resumes from it and
        finished work is not repeated. ``progress(done, total)`` hears each step of each phase;
        ``callbacks`` observe the fit (:mod:`neurosim.training.callbacks`). ``snapshot_path``:
        where to keep the checkpoint taken when the unsupervised phase ends (written only when
        this call ran that phase). Another fit whose unsupervised phase is the same (same model,
        seed, pool and budget; only its labelled subset differs) resumes from a copy of it and
        continues exactly as if it had run the phase itself.

        Draws from torch's global generator during training (dropout masks) come from a stream
        seeded by the fit's seed, and its state is checkpointed, so a fit gives the same result
        whatever ran before it in the process, and a resumed fit the same as an uninterrupted one.
        The caller's generator state is restored afterwards.
        """
        observers = Callbacks([*([ProgressReport(progress)] if progress else []), *callbacks])
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed * 1_000_003 + TRAINING_STREAM)
            paths = [None if path is None else Path(path) for path in (checkpoint_path, snapshot_path)]
            result = self._fit(paths[0], observers, paths[1])
        observers.on_end(result)
        return result

    def _save(self, path: Path | None, progress: Progress) -> None:
        if path is not None:
            state = checkpoint_state(progress, self.model, self.supervised, self.unsupervised, self.device)
            save_torch(path, state)

    def _fit(
        self, checkpoint_path: Path | None, callbacks: TrainingCallback, snapshot_path: Path | None = None
    ) -> FitResult:
        progress = Progress()
        state = read_checkpoint(checkpoint_path) if checkpoint_path is not None else None
        if state is not None:
            progress = restore(state, self.model, self.supervised, self.unsupervised, self.device)
            log.info("resuming from step %d (%s)", progress.step, checkpoint_path)
        if progress.unsupervised_step < self.unsupervised_total():
            self._unsupervised_phase(progress, checkpoint_path, callbacks)
            self._save(snapshot_path, progress)  # step 0, empty history: as a checkpoint at the phase's end
        computing = time.perf_counter()
        view = self.feature_view(self.data.x_train, self.data.x_test)
        progress.elapsed += time.perf_counter() - computing  # (recomputed, and counted again, after a resume)
        status = nonfinite_parameters(self.model, 0) if self.unsupervised.steps else None
        if status is None:
            status = self._supervised_phase(progress, view, checkpoint_path, callbacks)
        if status is not None:
            self.recorder.fill_after_divergence(progress.history, self._checkpoints())
            confusion = torch.zeros(self.data.n_classes, self.data.n_classes, dtype=torch.int64)
            none = torch.full((len(self.data.y_test),), -1, dtype=torch.int64)
            return self._result(progress, (none, confusion), float("nan"), status, None)
        predictions, confusion = self.recorder.final_test(view)
        accuracy = float(confusion.diagonal().sum() / confusion.sum())
        return self._result(progress, (predictions, confusion), accuracy, FitStatus(), self.convergence())

    def _result(
        self,
        progress: Progress,
        final_test: tuple[torch.Tensor, torch.Tensor],
        accuracy: float,
        status: FitStatus,
        convergence: Convergence | None,
    ) -> FitResult:
        """The fit's result from its progress and ``final_test``: each test image's prediction
        ``[N]`` and the confusion ``[C, C]``."""
        predictions, confusion = final_test
        return FitResult(
            history=progress.history,
            loss_kind=self.loss_kind,
            confusion=confusion,
            final_test_accuracy=accuracy,
            n_train=len(self.data.y_train),
            test_prediction=predictions,
            test_label=self.data.y_test.cpu(),
            unsupervised_seconds=progress.unsupervised_seconds,
            status=status,
            convergence=convergence,
        )

    def _checkpoints(self) -> set[int]:
        """The supervised steps (1-based) at which the fit is measured and checkpointed."""
        n, batch = len(self.data.y_train), self.config.batch_size
        return set(checkpoint_steps(n, batch, self.epochs()[0], self.config.n_checkpoints))

    def unsupervised_schedule(self, save: Callable[[int, float], None] | None = None) -> UnsupervisedSchedule:
        """What the unsupervised phase presents (its pool, batch, steps per layer and seed);
        ``save(done, seconds)`` checkpoints after each pass."""
        batch, per_layer = self.unsupervised_batch, self.unsupervised_per_layer()
        return UnsupervisedSchedule(self.data.x_pool, batch, per_layer, self.seed, save)

    def _unsupervised_phase(self, progress: Progress, path: Path | None, callbacks: TrainingCallback) -> None:
        """Run the unsupervised phase from where ``progress`` says, checkpointing after each pass."""

        def save(done: int, seconds: float) -> None:
            self._save(path, Progress(0, History(), seconds, done, seconds))

        done, spent = progress.unsupervised_step, progress.unsupervised_seconds
        seconds = self.unsupervised.run(self.unsupervised_schedule(save), done, spent, callbacks)
        progress.unsupervised_step, progress.unsupervised_seconds = self.unsupervised_total(), seconds
        progress.elapsed = seconds

    def _supervised_phase(
        self, progress: Progress, view: FeatureView, path: Path | None, callbacks: TrainingCallback
    ) -> FitStatus | None:
        """Train the supervised steps from ``progress.step`` to the end of the budget, measuring and
        checkpointing at the checkpoint grid; returns why the fit diverged, or ``None``."""
        n, batch = len(self.data.y_train), self.config.batch_size
        epochs, learning_epochs = self.epochs()
        per_epoch = steps_per_epoch(n, batch)
        total, evaluate_at = per_epoch * epochs, self._checkpoints()
        recorder = self.recorder
        history, status = progress.history, None
        objective_sum, objective_count = 0.0, 0
        started, order = time.perf_counter() - progress.elapsed, torch.empty(0)
        self.model.train()
        callbacks.on_phase_start(self.supervised.name)
        with self.supervised.capture() as capture:
            while progress.step < total and status is None:
                epoch, within = divmod(progress.step, per_epoch)
                if epoch < learning_epochs:
                    if within == 0 or not len(order):
                        order = epoch_order(self.seed, epoch, n).to(self.device)
                    index = order[within * batch : (within + 1) * batch]
                    self.supervised.set_learning_rate(scheduled_lr(self.config, progress.step, total))
                    batch_data = TrainingBatch(
                        view.inputs_train[index], self.data.y_train[index], view.forward
                    )
                    objective = self.supervised.step(batch_data, capture, epoch / epochs, callbacks)
                    status = nonfinite_objective(objective, progress.step + 1)
                    objective_sum, objective_count = objective_sum + objective, objective_count + len(index)
                progress.step += 1
                callbacks.on_step(self.supervised.name, progress.step, total)
                if progress.step in evaluate_at and status is None:
                    mean = objective_sum / objective_count if objective_count else None
                    status = recorder.diverged(history, mean, progress.step)
                    if status is not None:
                        break
                    recorder.record(history, progress.step, view, mean)
                    history.wall_time.append(time.perf_counter() - started)
                    objective_sum, objective_count = 0.0, 0
                    callbacks.on_checkpoint(progress.step, history)
                    progress.elapsed = history.wall_time[-1]
                    self._save(path, progress)
        callbacks.on_phase_end(self.supervised.name)
        return status

    @torch.no_grad()
    def convergence(self) -> Convergence | None:
        """The model's convergence diagnostic, in eval mode, on up to :data:`CONVERGENCE_SAMPLE`
        training images (the train-accuracy sample, fixed across seeds)."""
        sample = self.data.x_train[self.data.train_eval_indices[:CONVERGENCE_SAMPLE]]
        was_training = self.model.training
        self.model.eval()
        try:
            return self.model.convergence(sample)
        finally:
            self.model.train(was_training)
