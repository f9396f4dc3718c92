"""scikit-learn's embedded 8x8 handwritten digits (the default task; no download needed).

Data: 1797 images of 8x8 pixels with intensities 0..16 (UCI "Optical Recognition of Handwritten
Digits", as shipped inside scikit-learn). Intensities are divided by 16 to lie in [0, 1].

Split (fixed, documented): for each class, the class's indices are permuted by
``numpy.random.default_rng(0)`` and the first 20 % (rounded down) go to the test split, the rest
to training. This gives 1442 training and 355 test images, stratified by class, identical on
every machine.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from neurosim.tasks.base import Task
from neurosim.tasks.registry import TASKS

TEST_FRACTION = 0.2
SPLIT_SEED = 0


@TASKS.register("digits")
def digits() -> Task:
    """The embedded sklearn digits task, 8x8 images, 10 classes."""
    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0
    labels = bunch.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test_mask = np.zeros(len(labels), dtype=bool)
    for label in range(10):
        members = np.flatnonzero(labels == label)
        shuffled = rng.permutation(members)
        test_mask[shuffled[: int(len(members) * TEST_FRACTION)]] = True
    x = torch.from_numpy(images).unsqueeze(1)  # [N, 1, 8, 8]
    y = torch.from_numpy(labels)
    return Task(
        name="digits",
        x_train=x[~test_mask],
        y_train=y[~test_mask],
        x_test=x[test_mask],
        y_test=y[test_mask],
        n_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        description=(
            "scikit-learn digits (8x8, intensities/16); stratified 80/20 split with numpy default_rng(0)"
        ),
    )
