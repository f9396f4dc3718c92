"""Progress of long fits: a bar on a terminal, log lines with an ETA elsewhere (files, SLURM logs).

A fit reports ``(step, total)`` after every step of each phase (the unsupervised phase, then the
supervised one; a phase starts when ``total`` changes). On a terminal each phase gets a tqdm bar;
when stderr is not a terminal, a log line is written at every tenth of a phase::

    mlp seed 0: 30 % of 1350 steps, 12 s elapsed, about 28 s left
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def progress_factory(mode: str) -> Callable[[str], Progress | None]:
    """Per-fit progress callbacks from a label: ``bar`` (tqdm), ``log`` (a line per 10 %) or ``off``."""
    if mode not in ("bar", "log", "off"):
        raise ValueError(f"unknown progress mode {mode!r}")

    def make(label: str) -> Progress | None:
        if mode == "off":
            return None
        return _bar(label) if mode == "bar" else _lines(label)

    return make


def _bar(label: str) -> Progress:
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(step: int, total: int) -> None:
        if "bar" in bar and bar["bar"].total != total:  # a new phase (unsupervised, then supervised)
            bar["bar"].close()
            del bar["bar"]
        if "bar" not in bar:
            bar["bar"] = tqdm(
                total=total, initial=step - 1, desc=label, unit="step", leave=False, file=sys.stderr
            )
        bar["bar"].update(1)
        if step == total:
            bar.pop("bar").close()

    return update


def _lines(label: str) -> Progress:
    phase: dict[str, float] = {}

    def update(step: int, total: int) -> None:
        if phase.get("total") != total:  # a new phase; a resumed one starts counting where it is
            phase.update(
                total=total, start_step=step - 1, started=time.perf_counter(), tenth=step * 10 // total
            )
        tenth = step * 10 // total
        if tenth <= phase["tenth"]:
            return
        phase["tenth"] = tenth
        elapsed = time.perf_counter() - phase["started"]
        rate = (step - phase["start_step"]) / elapsed if elapsed > 0 else float("inf")
        left = (total - step) / rate if rate > 0 else float("nan")
        log.info(
            "%s: %d %% of %d steps, %.0f s elapsed, about %.0f s left",
            label,
            10 * tenth,
            total,
            elapsed,
            left,
        )

    return update
