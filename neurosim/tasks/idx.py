"""MNIST and Fashion-MNIST from IDX files (the official 60k/10k split, when the files are the official ones).

IDX format (LeCun et al.): a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the data. Images are uint8 28x28 and are
scaled by 1/255 to [0, 1]; labels are uint8 class indices.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neurosim.errors import UserError
from neurosim.tasks.base import Task
from neurosim.tasks.registry import TASKS
from neurosim.tasks.sources import FILES, get_source, locate

_UBYTE = 0x08


@dataclass(frozen=True)
class IdxFile:
    """One IDX file as read: its array and the MD5s of the file and of its (decompressed) content."""

    array: np.ndarray
    file_md5: str
    content_md5: str


def read_idx_file(path: str | Path) -> IdxFile:
    """Read an IDX file (raw or ``.gz``) of unsigned bytes once: its array of the stated shape and
    its two MD5s (the file's, as published for ``.gz`` files; the content's, which recompression
    does not change)."""
    path = Path(path)
    raw = path.read_bytes()
    payload = gzip.decompress(raw) if path.suffix == ".gz" else raw
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0:
        raise UserError(f"{path} is not an IDX file (bad magic number)")
    type_code, n_dims = payload[2], payload[3]
    if type_code != _UBYTE:
        raise UserError(f"{path}: only unsigned-byte IDX files are supported (type 0x{type_code:02x})")
    header_end = 4 + 4 * n_dims
    shape = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    data = np.frombuffer(payload, dtype=np.uint8, offset=header_end)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path}: header says shape {shape} but holds {data.size} values (truncated?)")
    md5 = functools.partial(hashlib.md5, usedforsecurity=False)
    return IdxFile(data.reshape(shape), md5(raw).hexdigest(), md5(payload).hexdigest())


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) of unsigned bytes into an array of its stated shape."""
    return read_idx_file(path).array


def load_idx_task(name: str, data_dir: str | Path | None = None) -> Task:
    """Build the task ``name`` (``mnist`` or ``fashion_mnist``) from its IDX files."""
    source = get_source(name)
    paths = locate(source, data_dir)
    files = {stem: read_idx_file(path) for stem, path in paths.items()}

    def images(stem: str) -> torch.Tensor:
        array = files[stem].array.astype(np.float32) / 255.0
        return torch.from_numpy(array).unsqueeze(1)  # [N, 1, 28, 28]

    def labels(stem: str) -> torch.Tensor:
        return torch.from_numpy(files[stem].array.astype(np.int64))

    x_train, y_train = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    x_test, y_test = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    return Task(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        n_classes=10,
        class_names=source.class_names,
        description=f"{name}: {len(y_train):,} training and {len(y_test):,} test images, intensities/255, "
        f"from {paths[FILES[2]].parent}; {data_identity(source, files)}",
    )


def data_identity(source, files: dict[str, IdxFile]) -> str:
    """Which files were loaded, as stored with every result (with the image counts the description
    states, a 5k copy in the data folder is never reported as the official split).

    The official files are recognised by the published MD5s of their ``.gz`` files. Other files
    (a recompressed copy such as Debian's Fashion-MNIST package, or other data) are listed with the
    MD5 of their decompressed content, which recompression does not change.
    """
    if {stem: file.file_md5 for stem, file in files.items()} == source.md5:
        return "the official files (the published MD5 of every .gz verified)"
    listed = ", ".join(f"{stem} {file.content_md5}" for stem, file in files.items())
    return f"files without the published .gz MD5s (a recompressed copy or other data); content MD5s: {listed}"


@TASKS.register("fashion_mnist")
def fashion_mnist(data_dir: str | None = None) -> Task:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 28x28 grey images of 10 clothing classes."""
    return load_idx_task("fashion_mnist", data_dir)


@TASKS.register("mnist")
def mnist(data_dir: str | None = None) -> Task:
    """MNIST (LeCun et al. 1998), 28x28 handwritten digits."""
    return load_idx_task("mnist", data_dir)
