"""MNIST's first 10,000 training digits, split into train, validation and test (task ``mnist_10k``).

Machines without network access (CI, these development machines) have no MNIST test set, only an
offline copy of the first 10,000 digits of the official *training* set, in IDX format:
``train-images-idx3-ubyte.gz`` and ``train-labels-idx1-ubyte.gz`` (see ``data/README.md``). This
task splits them once, stratified by class, with a fixed seed:

    per class: 70 % train, 10 % validation, 20 % test (rounded down; the remainder to test)
    overall:   6,995 train / 997 validation / 2,008 test

so that settings can be chosen on the validation split and reported on a test split that no
choice has seen. Its numbers are on a 10k subset of MNIST's training digits, not on the MNIST test
set: the task's description (stored with every result) says so, with the files' MD5s, and the
published 60k/10k numbers are upper anchors for it, not targets.

Files are searched in: the ``data_dir`` option; ``$NEUROSIM_DATA/mnist-10k``;
``./data/mnist-10k``; ``../shared/data/mnist-10k`` (beside the working directory and beside the
repository). Both files must have the MD5s below (checked as they are read), so a different or
damaged copy is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from neurosim.errors import UserError
from neurosim.tasks.base import Task
from neurosim.tasks.idx import read_idx_file
from neurosim.tasks.registry import TASKS

FOLDER = "mnist-10k"
MD5 = {
    "train-images-idx3-ubyte.gz": "2297a8cd63fcd9f456b546b92a1f810f",
    "train-labels-idx1-ubyte.gz": "89ee0b731b375256bc21c83baad29996",
}
#: Fractions of each class in the train and validation splits; the rest is the test split.
TRAIN_FRACTION, VALIDATION_FRACTION = 0.7, 0.1
SPLIT_SEED = 20261203


def candidate_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched, in order, for the two files."""
    dirs = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("NEUROSIM_DATA"):
        dirs.append(Path(os.environ["NEUROSIM_DATA"]) / FOLDER)
    repository = Path(__file__).resolve().parents[2]
    dirs += [Path.cwd() / "data" / FOLDER, Path.cwd().parent / "shared" / "data" / FOLDER]
    dirs.append(repository.parent / "shared" / "data" / FOLDER)
    return list(dict.fromkeys(dirs))


def locate(data_dir: str | Path | None = None) -> Path:
    """The first folder holding both files (their MD5s are checked when they are read)."""
    searched = candidate_dirs(data_dir)
    for directory in searched:
        if all((directory / name).is_file() for name in MD5):
            return directory
    where = ", ".join(str(d) for d in searched)
    raise UserError(
        f"the MNIST 10k subset was not found (searched {where}); point $NEUROSIM_DATA at a folder "
        f"holding {FOLDER}/ with {' and '.join(MD5)}"
    )


def read_checked(path: Path) -> np.ndarray:
    """An IDX file of the subset, refused unless its MD5 is the expected one."""
    file = read_idx_file(path)
    if file.file_md5 != MD5[path.name]:
        raise UserError(f"{path} has MD5 {file.file_md5}, expected {MD5[path.name]}: not the 10k subset")
    return file.array


def stratified_split(labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted indices of the train, validation and test splits: each class permuted once by a
    generator seeded with :data:`SPLIT_SEED`, its first 70 % train, next 10 % validation, rest test."""
    rng = np.random.default_rng(SPLIT_SEED)
    parts: tuple[list, list, list] = ([], [], [])
    for label in range(n_classes):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_train = int(len(members) * TRAIN_FRACTION)
        n_validation = int(len(members) * VALIDATION_FRACTION)
        parts[0].append(members[:n_train])
        parts[1].append(members[n_train : n_train + n_validation])
        parts[2].append(members[n_train + n_validation :])
    train, validation, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, validation, test


@TASKS.register("mnist_10k")
def mnist_10k(data_dir: str | None = None) -> Task:
    """The first 10,000 MNIST training digits, split 70/10/20 per class (train/validation/test)."""
    directory = locate(data_dir)
    images = read_checked(directory / "train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    labels = read_checked(directory / "train-labels-idx1-ubyte.gz").astype(np.int64)
    train, validation, test = stratified_split(labels, 10)
    x = torch.from_numpy(images).unsqueeze(1)  # [N, 1, 28, 28]
    y = torch.from_numpy(labels)
    return Task(
        name="mnist_10k",
        x_train=x[train],
        y_train=y[train],
        x_val=x[validation],
        y_val=y[validation],
        x_test=x[test],
        y_test=y[test],
        n_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        description=(
            f"MNIST 10k subset: the first 10,000 official MNIST training digits (not the MNIST test "
            f"set), split per class 70/10/20 with seed {SPLIT_SEED} into {len(train):,} train, "
            f"{len(validation):,} validation and {len(test):,} test images, intensities/255, from "
            f"{directory} (MD5 {', '.join(MD5.values())} verified)"
        ),
    )
