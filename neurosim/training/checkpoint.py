"""A fit's training checkpoint: everything needed to continue it as if it had never stopped.

A checkpoint holds the step reached in each phase, the model, every optimiser's state, the
learning curve so far, the wall time spent and torch's random streams. It is written atomically
(:func:`~neurosim.results.storage.save_torch`) every ``steps per pass over the pool`` steps of
the unsupervised phase (counted over all its layers) and at each measured checkpoint of the
supervised phase, and read with ``weights_only=True`` (tensors and plain
containers, never code).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neurosim.models.base import NeurosimModel
from neurosim.results.history import History
from neurosim.results.storage import UnreadableFile, load_torch, quarantine
from neurosim.training.phases import SupervisedPhase, UnsupervisedPhase

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """How far a fit got: supervised ``step``, its ``history`` and ``elapsed`` seconds (the
    unsupervised phase's included), and the unsupervised phase's steps and seconds."""

    step: int = 0
    history: History = field(default_factory=History)
    elapsed: float = 0.0
    unsupervised_step: int = 0
    unsupervised_seconds: float = 0.0


def read_checkpoint(path: str | Path) -> dict[str, Any] | None:
    """A fit's training checkpoint, or ``None`` if there is none. An unreadable one is moved aside
    as ``*.corrupt`` with a warning, and training starts afresh."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = load_torch(path)
        if not isinstance(state, dict) or "step" not in state:
            raise UnreadableFile(path, "not a neurosim training checkpoint")
    except UnreadableFile as error:
        log.warning("%s; moved to %s, training starts afresh", error, quarantine(path))
        return None
    return state


def checkpoint_state(
    progress: Progress,
    model: NeurosimModel,
    supervised: SupervisedPhase,
    unsupervised: UnsupervisedPhase,
    device: torch.device,
) -> dict[str, Any]:
    """The checkpoint of a fit that reached ``progress`` (plain containers and tensors only)."""
    backprop, local = supervised.backprop_optimizer, supervised.local_optimizer
    return {
        "step": progress.step,
        "unsupervised_step": progress.unsupervised_step,
        "unsupervised_seconds": progress.unsupervised_seconds,
        "model": model.state_dict(),
        "backprop_optimizer": backprop.state_dict() if backprop else None,
        "local_optimizer": local.state_dict() if local else None,
        "unsupervised_optimizers": unsupervised.state_dict(),
        "history": progress.history.__dict__,
        "elapsed": progress.elapsed,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def restore(
    state: dict[str, Any],
    model: NeurosimModel,
    supervised: SupervisedPhase,
    unsupervised: UnsupervisedPhase,
    device: torch.device,
) -> Progress:
    """Load ``state`` into the model, the optimisers and torch's streams; returns the progress."""
    model.load_state_dict(state["model"])
    if supervised.backprop_optimizer:
        supervised.backprop_optimizer.load_state_dict(state["backprop_optimizer"])
    if supervised.local_optimizer:
        supervised.local_optimizer.load_state_dict(state["local_optimizer"])
    unsupervised.load_state_dict(state.get("unsupervised_optimizers") or {})
    if state.get("rng") is not None:  # checkpoints written before the stream was saved lack it
        torch.set_rng_state(state["rng"])
    if state.get("cuda_rng") is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return Progress(
        step=state["step"],
        history=History(**state["history"]),
        elapsed=state["elapsed"],
        unsupervised_step=state.get("unsupervised_step", 0),
        unsupervised_seconds=state.get("unsupervised_seconds", 0.0),
    )
