"""Where the IDX datasets come from: official files, their checksums, and local search paths.

Search order for a dataset's files (first directory holding all four wins):
``$NEUROSIM_DATA/<name>``, ``./data/<name>``, then system paths (Debian's
``dataset-fashion-mnist`` package installs ``/usr/share/datasets/fashion-mnist``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from neurosim.errors import UserError, choices_message

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class IdxSource:
    """An IDX dataset's official download location and the MD5 of each published ``.gz`` file."""

    name: str
    base_url: str
    md5: dict[str, str]
    system_dirs: tuple[str, ...]
    class_names: tuple[str, ...]
    how_to_get: str


SOURCES = {
    "fashion_mnist": IdxSource(
        name="fashion_mnist",
        # The Zalando repository's own copy; MD5s as published in its README.
        base_url="https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        how_to_get=(
            "install the Debian package (apt-get install dataset-fashion-mnist), or download with "
            "`neurosim data fetch fashion_mnist`, or point $NEUROSIM_DATA at a folder holding "
            "fashion_mnist/*-ubyte[.gz]"
        ),
    ),
    "mnist": IdxSource(
        name="mnist",
        # LeCun's site rate-limits; this is the mirror torchvision uses, same files and MD5s.
        base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        system_dirs=(),
        class_names=tuple(str(d) for d in range(10)),
        how_to_get=(
            "download with `neurosim data fetch mnist`, or point $NEUROSIM_DATA at a folder "
            "holding mnist/*-ubyte[.gz]"
        ),
    ),
}


def md5_of(path: Path) -> str:
    """Hex MD5 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_source(name: str) -> IdxSource:
    """The IDX source called ``name``; unknown names list the valid ones."""
    if name not in SOURCES:
        raise UserError(choices_message("dataset", name, sorted(SOURCES)))
    return SOURCES[name]


def default_data_root() -> Path:
    """Where downloads go: ``$NEUROSIM_DATA`` if set, else ``./data``."""
    env = os.environ.get("NEUROSIM_DATA")
    return Path(env) if env else Path.cwd() / "data"


def candidate_dirs(source: IdxSource, data_dir: str | Path | None = None) -> list[Path]:
    """Directories searched, in order, for a dataset's files."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    env = os.environ.get("NEUROSIM_DATA")
    if env:
        dirs.append(Path(env) / source.name)
    dirs.append(Path.cwd() / "data" / source.name)
    dirs.extend(Path(d) for d in source.system_dirs)
    return dirs


def find_file(directory: Path, stem: str) -> Path | None:
    """The raw or gzipped IDX file ``stem`` in ``directory``, if present."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def locate(source: IdxSource, data_dir: str | Path | None = None) -> dict[str, Path]:
    """Paths of the four IDX files, from the first directory that has them all.

    Raises:
        UserError: naming the directories searched and how to get the data.
    """
    searched = candidate_dirs(source, data_dir)
    for directory in searched:
        found = {stem: find_file(directory, stem) for stem in FILES}
        if all(found.values()):
            return found  # type: ignore[return-value]
    where = ", ".join(str(d) for d in searched)
    raise UserError(f"dataset {source.name!r} not found (searched {where}); to get it, {source.how_to_get}")
