"""Atomic writes: a crash never leaves a half-written file that looks complete.

Every file is written to a temporary name in the destination's folder and renamed into place
with ``os.replace``, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import torch
import xarray as xr


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` and then move the result to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        os.replace(temporary_path, path)
    finally:
        with suppress(FileNotFoundError):
            temporary_path.unlink()
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_torch(path: str | Path, obj: object) -> Path:
    """``torch.save`` atomically (training checkpoints)."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def save_dataset(path: str | Path, dataset: xr.Dataset) -> Path:
    """Save a Dataset as netCDF-4 (h5netcdf engine) atomically."""
    return atomic_write(path, lambda tmp: dataset.to_netcdf(tmp, engine="h5netcdf"))


def open_dataset(path: str | Path) -> xr.Dataset:
    """Load a stored Dataset fully into memory (the file is closed on return)."""
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return dataset.load()
