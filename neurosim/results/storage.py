"""Atomic, readable and safe storage: a crash never leaves a half-written file that looks complete,
and nothing read back from a run folder can execute code.

Every file is written to a temporary name in the destination's folder and renamed into place
with ``os.replace``, which is atomic on POSIX and Windows. The temporary file of ``mkstemp`` is
private (mode 0600); it is given the mode the process umask allows (0644 under umask 0022) before
the rename, so collaborators who share a run folder can read the results.

Reading: netCDF files through h5netcdf, tensors through ``torch.load(weights_only=True)``, which
unpickles only tensors and plain containers (a crafted pickle cannot run code). A file that cannot
be read raises :class:`UnreadableFile`, which names it; :func:`quarantine` moves such a file aside
(``*.corrupt``, never deleted) so a run can redo its work.
"""

from __future__ import annotations

import errno
import functools
import os
import pickle
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import torch
import xarray as xr

from neurosim.errors import UserError


class UnreadableFile(UserError):
    """A stored file exists but cannot be read (truncated, corrupt, or not what it claims to be)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path


@functools.cache
def process_umask() -> int:
    """The process umask (read once: ``os.umask`` can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file under the process umask (0o644 under 0o022)."""
    return 0o666 & ~process_umask()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` and then move the result to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        os.chmod(temporary_path, file_mode())
        os.replace(temporary_path, path)
    finally:
        with suppress(FileNotFoundError):
            temporary_path.unlink()
    return path


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda tmp: _write(tmp, text))


def save_torch(path: str | Path, obj: object) -> Path:
    """``torch.save`` atomically (training checkpoints, trained weights). ``obj`` must hold only
    tensors, numbers, strings, ``None`` and lists, tuples and dicts of them, so that
    :func:`load_torch` can read it back without unpickling arbitrary objects."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path, map_location: str | torch.device | None = "cpu") -> object:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers only, so a crafted
    file cannot execute code. Any failure raises :class:`UnreadableFile` naming the file."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except OSError as error:
        if error.errno is not None:
            raise
        raise UnreadableFile(path, _first_line(error)) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as error:
        if "Weights only load failed" in str(error):  # torch's hint (load unsafely) is not ours
            raise UnreadableFile(path, "holds more than tensors and plain data (refused unread)") from None
        raise UnreadableFile(path, _first_line(error)) from None


def save_dataset(path: str | Path, dataset: xr.Dataset) -> Path:
    """Save a Dataset as netCDF-4 (h5netcdf engine) atomically."""
    return atomic_write(path, lambda tmp: dataset.to_netcdf(tmp, engine="h5netcdf"))


def open_dataset(path: str | Path) -> xr.Dataset:
    """Load a stored Dataset fully into memory (the file is closed on return).

    Raises:
        FileNotFoundError: if there is no file.
        UnreadableFile: if the file exists but is not a readable netCDF-4 file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if not os.access(path, os.R_OK):  # not ours to read: an error of the machine, not the file
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    try:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            return dataset.load()
    except OSError as error:
        if error.errno is not None:  # EIO, EMFILE, ESTALE...: the machine's, so nothing is moved
            raise
        raise UnreadableFile(path, _first_line(error)) from None
    except (ValueError, KeyError, TypeError, RuntimeError) as error:
        raise UnreadableFile(path, _first_line(error)) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def quarantine(path: str | Path) -> Path:
    """Move an unreadable file aside as ``<name>.corrupt`` (``.corrupt.1``, ... if taken), never
    deleting it or another quarantined file; returns the new path.

    The new name is claimed with a hard link, which fails if the name exists, so two processes
    quarantining at once never overwrite each other's copy.
    """
    path = Path(path)
    for index in range(10_000):
        target = path.with_name(path.name + ".corrupt" + (f".{index}" if index else ""))
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        path.unlink()
        return target
    raise UserError(f"cannot move {path} aside: 10000 quarantined copies exist already")
