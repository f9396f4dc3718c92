"""Boolean tasks: XOR and n-bit parity, the classic limits of a single threshold unit.

Inputs are all 2^n bit patterns (values 0/1); the label is the parity (XOR for n = 2). Train and
test are the same complete truth table, so "accuracy" here is accuracy on every possible input.
A single linear threshold unit reaches at most 1/2 + C(n-1, floor((n-1)/2)) / 2^n of it (75 %
for XOR; Minsky & Papert 1969), which the tests check against the perceptron.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import annotated_types as at
import torch

from neurosim.errors import UserError
from neurosim.tasks.base import Task
from neurosim.tasks.registry import TASKS


def _truth_table(n_bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    patterns = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n_bits)))
    labels = patterns.sum(dim=1).long() % 2
    return patterns, labels


@TASKS.register("parity")
def parity(n_bits: Annotated[int, at.Ge(2), at.Le(20)] = 3) -> Task:
    """n-bit parity over the full truth table of 2^n patterns (inputs [2^n, n])."""
    if not isinstance(n_bits, int) or n_bits < 2:
        raise UserError(f"parity n_bits must be an integer >= 2, got {n_bits!r}")
    x, y = _truth_table(n_bits)
    return Task(
        name="parity" if n_bits != 2 else "xor",
        x_train=x,
        y_train=y,
        x_test=x.clone(),
        y_test=y.clone(),
        n_classes=2,
        class_names=("even", "odd"),
        description=f"{n_bits}-bit parity, full truth table ({2**n_bits} patterns) for train and test",
        options={"n_bits": n_bits},
    )


@TASKS.register("xor")
def xor() -> Task:
    """XOR: 2-bit parity, 4 patterns."""
    return parity(n_bits=2)
