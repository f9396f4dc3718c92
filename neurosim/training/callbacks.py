"""What a fit tells its observers: the progress display, the operation ledger, future protocols.

A fit calls its callbacks at fixed points, in this order:

* ``on_phase_start(phase)`` / ``on_phase_end(phase)`` around each phase that runs
  (``unsupervised``, ``supervised``; a resumed fit starts again at the phase it was in);
* ``on_rule_start(module)`` / ``on_rule_end(module, rule, pre)`` around each local rule's update of
  ``module`` from its input ``pre`` (``rule.last_updates`` then holds the update's plasticity
  count);
* ``on_step(phase, done, total)`` after each step of a phase (``done`` of ``total`` steps);
* ``on_checkpoint(step, history)`` after the supervised phase measured a checkpoint (``history``
  holds it) and before it is saved;
* ``on_end(result)`` with the :class:`~neurosim.training.trainer.FitResult`.

Observers subscribe instead of re-running the trainer's steps, so a change to a step reaches the
ledger and the display by construction. A callback must not change the model, the data or the
random streams: a fit with and without observers learns the same bits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from neurosim.results.history import History

if TYPE_CHECKING:
    from neurosim.rules.base import LocalRule


class TrainingCallback:
    """An observer of a fit; every hook does nothing unless a subclass overrides it."""

    def on_phase_start(self, phase: str) -> None:
        """A phase (``unsupervised`` or ``supervised``) begins."""

    def on_phase_end(self, phase: str) -> None:
        """A phase ends (also when a divergence stops it)."""

    def on_rule_start(self, module: nn.Module) -> None:
        """A local rule is about to update ``module``."""

    def on_rule_end(self, module: nn.Module, rule: LocalRule, pre: torch.Tensor) -> None:
        """A local rule wrote its change of ``module`` (from input ``pre``) into the gradients."""

    def on_step(self, phase: str, done: int, total: int) -> None:
        """Step ``done`` (1-based) of the ``total`` steps of ``phase`` finished."""

    def on_checkpoint(self, step: int, history: History) -> None:
        """The supervised phase measured checkpoint ``step``; ``history`` ends with it."""

    def on_end(self, result: Any) -> None:
        """The fit finished with ``result`` (a :class:`~neurosim.training.trainer.FitResult`)."""


class Callbacks(TrainingCallback):
    """Several observers as one: each hook is passed to each of them, in order."""

    def __init__(self, callbacks: Sequence[TrainingCallback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_phase_start(self, phase: str) -> None:
        for callback in self.callbacks:
            callback.on_phase_start(phase)

    def on_phase_end(self, phase: str) -> None:
        for callback in self.callbacks:
            callback.on_phase_end(phase)

    def on_rule_start(self, module: nn.Module) -> None:
        for callback in self.callbacks:
            callback.on_rule_start(module)

    def on_rule_end(self, module: nn.Module, rule: LocalRule, pre: torch.Tensor) -> None:
        for callback in self.callbacks:
            callback.on_rule_end(module, rule, pre)

    def on_step(self, phase: str, done: int, total: int) -> None:
        for callback in self.callbacks:
            callback.on_step(phase, done, total)

    def on_checkpoint(self, step: int, history: History) -> None:
        for callback in self.callbacks:
            callback.on_checkpoint(step, history)

    def on_end(self, result: Any) -> None:
        for callback in self.callbacks:
            callback.on_end(result)


class ProgressReport(TrainingCallback):
    """Passes each step to a ``report(done, total)`` function (the run's progress display), phase
    by phase: the unsupervised steps, then the supervised ones."""

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self.report = report

    def on_step(self, phase: str, done: int, total: int) -> None:
        self.report(done, total)
