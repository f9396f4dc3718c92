"""The budgets a pair's members were actually given, and which of them are matched.

Every member of a comparison shares the supervised budget's *keys* (epochs, batch size, labelled
subset), but not necessarily the work those keys buy: a rule defined by one presentation of the
labelled set (the Neocognitron's US4, a label assignment) learns in its first pass only, a bio
model learns its first layers from unlabelled images its backprop twin never sees, and a control
may be given another unlabelled budget. :func:`budget_table` states, per member, what it was
given, read from a run's ``results.nc`` (its ``config`` attribute, the resolved comparison, and
the checkpoint coordinates ``step``, ``samples_seen``, ``epoch``), and which quantities are equal
across the pair. For one member, with ``N`` labelled images, batch ``B``, ``E`` epochs of which it
learns in ``P = min(E, passes)``::

    labelled samples presented   P N
    supervised optimiser steps   P ceil(N / B)
    unlabelled images per layer  S (``unsupervised_samples``) or U N_pool (``unsupervised_epochs``),
                                 in steps of B_u = ``unsupervised_batch_size`` or B:
                                 (S // N_pool) ceil(N_pool / B_u) + ceil((S mod N_pool) / B_u)
                                 steps per layer, for each of the model's L unsupervised layers

(the trainer's schedule, :mod:`neurosim.training.schedule`). The unlabelled pool is the labelled
set when the comparison uses all training images or ``unsupervised_pool = "labelled"``; else it is
the task's whole training split, whose size ``results.nc`` does not store (pass ``pool_size``).

What a model learns in which phase is a fact of its code (its learning plan), which a report does
not load: :data:`LEARNING` states it per model key, and ``tests/test_budgets.py`` checks it
against every registered model's plan.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import xarray as xr


@dataclass(frozen=True)
class Learning:
    """What a model learns when: ``unsupervised_layers`` (layers trained without labels, one after
    another) and ``supervised_passes`` (presentations of the labelled set it learns from; ``None``:
    every epoch), which the option ``passes_option`` overrides where the model has one."""

    unsupervised_layers: int = 0
    supervised_passes: int | None = None
    passes_option: str | None = None


#: Each registered model's learning phases (models absent here learn by backprop in every epoch).
LEARNING: dict[str, Learning] = {
    "hebbian_krotov": Learning(1),
    "krotov_kmeans": Learning(1),
    "softhebb_mlp": Learning(1),
    "softhebb_mlp_kmeans": Learning(1),
    "softhebb_cnn": Learning(2),
    "softhebb_cnn_kmeans": Learning(2),
    "neocognitron": Learning(2, 1, "top_passes"),
    "neocognitron_knn": Learning(2, 1),
    "neocognitron_kmeans": Learning(1, 1),
    "diehl_cook": Learning(1, 1),
    "kmeans": Learning(1, 1),
}

HEADER = [
    "member",
    "labelled samples",
    "supervised passes",
    "supervised steps",
    "batch",
    "unsupervised layers",
    "unlabelled images / layer",
    "unsupervised steps / layer",
    "unsupervised batch",
]
#: The columns compared across the pair for the closing "matched / not matched" row.
COMPARED = HEADER[1:]


def _steps(images: int, pool: int, batch: int) -> int:
    """Steps that present ``images`` in passes over ``pool`` images, ``batch`` at a time."""
    passes, rest = divmod(images, pool)
    return passes * math.ceil(pool / batch) + math.ceil(rest / batch)


def _presented(images: int, pool: int, batch: int) -> int:
    """Images those steps present (the last step of a pass may be short; whole batches beyond)."""
    passes, rest = divmod(images, pool)
    return passes * pool + min(math.ceil(rest / batch) * batch, pool)


def member_budget(member: dict[str, Any], n_labelled: int, epochs: int, pool: int | None) -> list[str]:
    """The row of one member (a ``members`` entry of the resolved config) as strings, given the
    labelled set's size, the supervised epochs and the unlabelled pool's size (``None``: unknown)."""
    training, learning = member["training"], LEARNING.get(member["model"], Learning())
    limit = learning.supervised_passes
    if learning.passes_option and learning.passes_option in member["options"]:
        limit = int(member["options"][learning.passes_option])
    passes = epochs if limit is None else min(epochs, limit)
    batch = int(training["batch_size"])
    row = [member["name"], str(passes * n_labelled), str(passes), str(passes * math.ceil(n_labelled / batch))]
    row += [str(batch), str(learning.unsupervised_layers)]
    if not learning.unsupervised_layers:
        return [*row, "0", "0", "-"]
    unsupervised_batch = int(training.get("unsupervised_batch_size", 0)) or batch
    requested = int(training.get("unsupervised_samples", 0))
    if pool is None:
        asked = str(requested) if requested else f"{training.get('unsupervised_epochs', 1)} x pool"
        return [*row, f"{asked} (pool size not stored)", "?", str(unsupervised_batch)]
    requested = requested or int(training.get("unsupervised_epochs", 1)) * pool
    images, steps = (
        _presented(requested, pool, unsupervised_batch),
        _steps(requested, pool, unsupervised_batch),
    )
    return [*row, str(images), str(steps), str(unsupervised_batch)]


def _pool(task: dict[str, Any], member: dict[str, Any], n_labelled: int, pool_size: int | None) -> int | None:
    """The unlabelled pool's size: the labelled set where it is the pool, else ``pool_size``."""
    if task.get("n_per_class") is None or member["training"].get("unsupervised_pool") == "labelled":
        return n_labelled
    return pool_size


def matched_note(rows: list[list[str]]) -> str:
    """``"matched: <column> (<value>), ...; not matched: <column> (<members> <value>; ...), ..."``
    over the member ``rows`` (members with equal values named together, in row order)."""
    matched, unmatched = [], []
    for index, column in enumerate(COMPARED, start=1):
        groups: dict[str, list[str]] = {}
        for row in rows:
            groups.setdefault(row[index], []).append(row[0])
        if len(groups) == 1:
            matched.append(f"{column} ({rows[0][index]})")
        else:
            named = "; ".join(f"{', '.join(members)} {value}" for value, members in groups.items())
            unmatched.append(f"{column} ({named})")
    return f"matched: {', '.join(matched) or 'nothing'}; not matched: {', '.join(unmatched) or 'nothing'}"


def budget_table(
    results: xr.Dataset, bio: str, twins: list[str], pool_size: int | None = None
) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: one row per member (``bio`` then ``twins``, member names of a run's
    ``results.nc``), then a row whose first cell is ``matched`` and whose second says which
    columns are equal across them and which are not (the module docstring gives every count).

    Args:
        results: a run's ``results.nc`` (attribute ``config``; coordinates ``samples_seen`` and
            ``epoch`` of the shared checkpoint grid).
        bio, twins: the pair's member names.
        pool_size: the task's training-split size, needed only for members whose unlabelled pool is
            larger than the labelled set (``task.n_per_class`` with ``unsupervised_pool = "all"``).
    """
    config = json.loads(results.attrs["config"])
    members = {member["name"]: member for member in config["members"]}
    epochs = round(float(results.epoch.values[-1]))
    n_labelled = int(results.samples_seen.values[-1]) // epochs
    rows = []
    for name in (bio, *twins):
        member = members[name]
        pool = _pool(config["task"], member, n_labelled, pool_size)
        rows.append(member_budget(member, n_labelled, epochs, pool))
    return HEADER, [*rows, ["matched", matched_note(rows), *[""] * (len(HEADER) - 2)]]
