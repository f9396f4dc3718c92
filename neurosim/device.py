"""Device selection and seeding: the only module that asks about CUDA.

The same code runs on CPU and CUDA. ``auto`` picks CUDA when it is available. Models are always
initialised on the CPU from a seeded generator and then moved, so a seed gives the same initial
weights on every device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from neurosim.errors import UserError, choices_message

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """Turn ``auto``/``cpu``/``cuda`` (or ``cuda:N``) into a :class:`torch.device`.

    Raises:
        UserError: for an unknown name, or ``cuda`` on a machine without CUDA.
    """
    base = name.split(":", 1)[0]
    if base not in DEVICE_CHOICES:
        raise UserError(choices_message("device", name, list(DEVICE_CHOICES)))
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was requested but CUDA is not available; use --device cpu")
    return torch.device(name)


def device_description(device: torch.device) -> str:
    """Human-readable device name for provenance (GPU model on CUDA)."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded, restoring its state afterwards.

    Used around model construction so that factories relying on torch's global generator
    (``nn.Linear``'s default initialisation, the random association layer) are reproducible
    without leaking state into the rest of the run.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
