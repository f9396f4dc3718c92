"""Synthetic linearly separable data, for tests of the perceptron convergence theorem.

Points are drawn uniformly in [0, 1]^D; a random hyperplane through the data's centre labels
them, and points closer than ``margin`` to the plane are dropped, so the classes are separable
with margin >= ``margin``. The perceptron convergence theorem (Novikoff 1962) then bounds the
number of mistakes by (R / margin)^2, with R the largest input norm (bias included).
"""

from __future__ import annotations

from typing import Annotated

import annotated_types as at
import torch

from neurosim.options import Seed, Width
from neurosim.tasks.base import Task
from neurosim.tasks.registry import TASKS


@TASKS.register("linear_separable")
def linear_separable(
    n_samples: Annotated[int, at.Ge(4), at.Le(1_000_000)] = 400,
    n_features: Width = 5,
    margin: Annotated[float, at.Ge(0), at.Lt(0.5)] = 0.05,
    seed: Seed = 0,
) -> Task:
    """Two classes split by a random hyperplane with a guaranteed margin."""
    generator = torch.Generator().manual_seed(seed)
    normal = torch.randn(n_features, generator=generator)
    normal = normal / normal.norm()
    points = torch.rand(4 * n_samples, n_features, generator=generator)
    distance = (points - 0.5) @ normal
    keep = distance.abs() >= margin
    points, distance = points[keep][:n_samples], distance[keep][:n_samples]
    labels = (distance > 0).long()
    half = len(labels) // 2
    return Task(
        name="linear_separable",
        x_train=points[:half],
        y_train=labels[:half],
        x_test=points[half:],
        y_test=labels[half:],
        n_classes=2,
        class_names=("below", "above"),
        description=f"uniform points in [0,1]^{n_features}, separated by a random plane, margin {margin}",
        options={"n_samples": n_samples, "n_features": n_features, "margin": margin, "seed": seed},
    )
