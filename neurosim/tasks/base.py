"""The Task: a labelled train/test split plus nested training subsets for learning curves.

Shapes:
    x_train: [N_train, *input_shape] float32, pixel intensities scaled to [0, 1].
    y_train: [N_train] int64 class indices in [0, n_classes).
    x_test, y_test: likewise for the test split.
Images are channels-first (``input_shape == (1, H, W)``); vector tasks have ``(D,)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from neurosim.errors import UserError

#: Share of each class of a training split held out for validation where a task has no split of
#: its own (1/6: Fashion-MNIST's 60k become 50k and 10k, as large as its test split).
VALIDATION_FRACTION = 1 / 6
VALIDATION_SEED = 0


def stratified_fraction(labels: torch.Tensor, n_classes: int, fraction: float, seed: int) -> torch.Tensor:
    """Sorted indices of ``floor(fraction * n_c)`` samples of each class ``c``, drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in range(n_classes):
        members = torch.nonzero(labels == label).flatten()
        order = torch.randperm(len(members), generator=generator)
        chosen.append(members[order[: int(len(members) * fraction)]])
    return torch.sort(torch.cat(chosen)).values


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task with a fixed train/test split.

    Attributes:
        name: registry key of the task.
        x_train: training inputs, ``[N_train, *input_shape]``, float32 in [0, 1].
        y_train: training labels, ``[N_train]``, int64.
        x_test: test inputs, ``[N_test, *input_shape]``.
        y_test: test labels, ``[N_test]``.
        n_classes: number of classes C.
        class_names: one label per class, for reports.
        description: where the data comes from and how it was split.
        x_val, y_val: a validation split carved from the training data, for choosing settings
            without looking at the test set (empty where a task has none yet).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    class_names: tuple[str, ...]
    description: str
    options: dict = field(default_factory=dict)
    x_val: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    y_val: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.int64))

    def validation_task(self) -> Task:
        """The task to choose settings on: trained on the training split less its validation
        split, tested on the validation split; the test split is not used.

        The validation split is the task's own (``x_val``) where it has one; otherwise
        :data:`VALIDATION_FRACTION` of each class of the training split, drawn once with
        :data:`VALIDATION_SEED` (so every comparison and seed sees the same one).
        """
        if len(self.y_val):
            x_train, y_train, x_val, y_val = self.x_train, self.y_train, self.x_val, self.y_val
            how = "its own validation split"
        else:
            held_out = stratified_fraction(self.y_train, self.n_classes, VALIDATION_FRACTION, VALIDATION_SEED)
            kept = torch.ones(len(self.y_train), dtype=torch.bool)
            kept[held_out] = False
            x_train, y_train = self.x_train[kept], self.y_train[kept]
            x_val, y_val = self.x_train[held_out], self.y_train[held_out]
            how = (
                f"a validation split of the training split ({VALIDATION_FRACTION:.3g} of each class, "
                f"seed {VALIDATION_SEED})"
            )
        return dataclasses.replace(
            self,
            x_train=x_train,
            y_train=y_train,
            x_test=x_val,
            y_test=y_val,
            x_val=torch.empty(0),
            y_val=torch.empty(0, dtype=torch.int64),
            description=f"{self.description}; EVALUATED ON VALIDATION: trained on {len(y_train):,} "
            f"images, tested on {len(y_val):,} of {how}, the test split unused",
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_inputs(self) -> int:
        """Number of input values per sample (the flattened input size D)."""
        return int(self.x_train[0].numel())

    def train_subset(self, n_per_class: int | None, seed: int = 0) -> torch.Tensor:
        """Indices of a class-balanced training subset, nested across sizes.

        For each class, the class's training indices are permuted once by a generator seeded
        with ``seed`` and the first ``n_per_class`` are taken, so with the same seed the
        10-per-class subset is contained in the 100-per-class subset.

        Args:
            n_per_class: labelled examples per class; ``None`` means the whole training set.
            seed: seed of the subset draw (independent of the model's seed).

        Returns:
            Sorted int64 indices into the training split, shape ``[<= C * n_per_class]``.
        """
        if n_per_class is None:
            return torch.arange(len(self.y_train))
        if n_per_class < 1:
            raise UserError(f"n_per_class must be >= 1 (or omitted for all data), got {n_per_class}")
        counts = torch.bincount(self.y_train, minlength=self.n_classes)
        smallest = int(counts.min())
        if n_per_class > smallest:
            raise UserError(
                f"task {self.name!r} has only {smallest} training examples in its smallest class; "
                f"n_per_class={n_per_class} is too large"
            )
        generator = torch.Generator().manual_seed(seed)
        chosen = []
        for label in range(self.n_classes):
            members = torch.nonzero(self.y_train == label).flatten()
            order = torch.randperm(len(members), generator=generator)
            chosen.append(members[order[:n_per_class]])
        return torch.sort(torch.cat(chosen)).values
