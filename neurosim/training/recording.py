"""A fit's data on the device, and the learning curve measured on it at the checkpoint grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neurosim.evaluation import accuracy, predict
from neurosim.models.base import NeurosimModel
from neurosim.results.history import History
from neurosim.tasks import Task
from neurosim.training.divergence import FitStatus, exploded_objective, nonfinite_parameters
from neurosim.training.phases import FeatureView
from neurosim.training.schedule import samples_seen


@dataclass(frozen=True)
class FitData:
    """The tensors of one fit, on its device.

    Attributes:
        x_train, y_train: the labelled training subset ``[N, ...]``, ``[N]``.
        x_test, y_test: the test split.
        x_pool: the unsupervised phase's images (the labelled subset, or the whole training split).
        train_eval_indices: ``[<= train_eval_limit]`` the training images whose accuracy the curve
            records (a fixed draw, the same for every seed).
        n_classes: classes of the task.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_pool: torch.Tensor
    train_eval_indices: torch.Tensor
    n_classes: int

    @classmethod
    def of(
        cls,
        task: Task,
        device: torch.device,
        n_per_class: int | None,
        subset_seed: int,
        train_eval_limit: int,
        pool_is_all: bool,
    ) -> FitData:
        """The labelled subset of ``n_per_class`` per class (``subset_seed``); the unsupervised
        pool is the whole training split when ``pool_is_all`` and the subset is smaller."""
        indices = task.train_subset(n_per_class, subset_seed)
        x_train = task.x_train[indices].to(device)
        eval_order = torch.randperm(len(indices), generator=torch.Generator().manual_seed(0))
        return cls(
            x_train=x_train,
            y_train=task.y_train[indices].to(device),
            x_test=task.x_test.to(device),
            y_test=task.y_test.to(device),
            x_pool=task.x_train.to(device) if pool_is_all and n_per_class is not None else x_train,
            train_eval_indices=eval_order[:train_eval_limit].to(device),
            n_classes=task.n_classes,
        )


class CurveRecorder:
    """Measures ``model`` at the checkpoint steps of a supervised phase of ``per_epoch`` steps of
    ``batch_size`` over ``data``'s labelled subset, into a :class:`History`."""

    def __init__(self, model: NeurosimModel, data: FitData, batch_size: int, per_epoch: int) -> None:
        self.model, self.data, self.batch_size, self.per_epoch = model, data, batch_size, per_epoch

    def grid_point(self, history: History, step: int) -> None:
        """Append where checkpoint ``step`` sits (steps, samples seen, epochs) to ``history``."""
        history.step.append(step)
        history.samples_seen.append(samples_seen(step, len(self.data.y_train), self.batch_size))
        history.epoch.append(step / self.per_epoch)

    def record(self, history: History, step: int, view: FeatureView, train_objective: float | None) -> None:
        """Append one checkpoint's measurements (all but the wall time) to ``history``.

        ``train_objective = None``: no training step since the last checkpoint (a rule past its
        ``supervised_passes``), so the model is the one last measured: its accuracies are repeated,
        not recomputed, and the objective is NaN.
        """
        self.grid_point(history, step)
        if train_objective is None and history.test_accuracy:
            history.test_accuracy.append(history.test_accuracy[-1])
            history.train_accuracy.append(history.train_accuracy[-1])
            history.train_loss.append(float("nan"))
            return
        data, subset = self.data, self.data.train_eval_indices
        history.test_accuracy.append(accuracy(self.model, view.inputs_test, data.y_test, view.forward))
        history.train_accuracy.append(
            accuracy(self.model, view.inputs_train[subset], data.y_train[subset], view.forward)
        )
        history.train_loss.append(float("nan") if train_objective is None else train_objective)

    def diverged(self, history: History, objective: float | None, step: int) -> FitStatus | None:
        """Rules 2 and 3 of :mod:`~neurosim.training.divergence` at a checkpoint."""
        first = next((v for v in history.train_loss if not math.isnan(v)), objective)
        if objective is not None and first is not None:
            exploded = exploded_objective(objective, first, step)
            if exploded is not None:
                return exploded
        return nonfinite_parameters(self.model, step)

    def fill_after_divergence(self, history: History, evaluate_at: set[int]) -> None:
        """The checkpoints of the shared grid after the last measured one, as NaN (so the members
        of a comparison still line up)."""
        last = history.step[-1] if history.step else 0
        for step in sorted(s for s in evaluate_at if s > last):
            self.grid_point(history, step)
            for values in (history.test_accuracy, history.train_accuracy, history.train_loss):
                values.append(float("nan"))
            history.wall_time.append(float("nan"))

    def final_test(self, view: FeatureView) -> tuple[torch.Tensor, torch.Tensor]:
        """The trained model on the test split: each image's predicted class ``[N]`` (int64, CPU)
        and the confusion ``[C, C]`` (int64 counts of test images of class ``i`` predicted as ``j``)."""
        n = self.data.n_classes
        predictions = predict(self.model, view.inputs_test, view.forward).cpu()
        pairs = (self.data.y_test.cpu() * n + predictions).bincount(minlength=n**2)
        return predictions, torch.zeros(n, n, dtype=torch.int64) + pairs.reshape(n, n)
