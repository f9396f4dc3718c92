"""Provenance: what produced a result (versions, git SHA, device, time), stored with every result."""

from __future__ import annotations

import datetime
import functools
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from neurosim.threads import current_threads
from neurosim.version import __version__


@functools.cache
def git_sha() -> str:
    """The repository's commit (with ``-dirty`` if it has uncommitted changes), or ``unknown``.

    Read once per process (the runner asks at start), so a long run records the code it loaded,
    not whatever is checked out when it finishes.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def provenance(device_name: str) -> dict[str, str]:
    """Attributes describing the software, machine and time of a result."""
    return {
        "neurosim_version": __version__,
        "git_sha": git_sha(),
        "torch_version": str(torch.__version__),
        "numpy_version": np.__version__,
        "xarray_version": xr.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": device_name,
        **current_threads(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
