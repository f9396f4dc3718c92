"""``neurosim data fetch NAME``: download the official IDX files and verify their checksums.

Each file is streamed to a temporary name beside its destination, its MD5 compared with the
published one, and only then renamed into place, so an interrupted or corrupted download never
leaves a file that looks complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.request
from pathlib import Path

from neurosim.errors import UserError
from neurosim.tasks.sources import FILES, default_data_root, find_file, get_source, md5_of

log = logging.getLogger(__name__)


def fetch(name: str, root: str | Path | None = None, base_url: str | None = None) -> Path:
    """Download dataset ``name`` into ``root/name`` (default ``$NEUROSIM_DATA`` or ``./data``).

    Files already present with the right checksum are kept. ``base_url`` overrides the official
    location (a mirror, or a ``file://`` folder in tests).

    Returns:
        The directory holding the four ``.gz`` files.

    Raises:
        UserError: on a network failure or a checksum mismatch (nothing is left behind).
    """
    source = get_source(name)
    target = Path(root) if root is not None else default_data_root()
    target = target / source.name
    created = [p for p in (target, *target.parents) if not p.exists()]
    target.mkdir(parents=True, exist_ok=True)
    try:
        _download_missing(source, target, base_url or source.base_url)
    except BaseException:
        for folder in created:  # innermost first: leave no empty folders behind a failed download
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    assert all(find_file(target, stem) for stem in FILES)
    return target


def _download_missing(source, target: Path, base: str) -> None:
    """Download each of the dataset's files that is absent or fails its checksum."""
    for stem in FILES:
        destination = target / f"{stem}.gz"
        expected = source.md5[stem]
        if destination.is_file() and md5_of(destination) == expected:
            log.info("%s present and verified", destination)
            continue
        url = base.rstrip("/") + f"/{stem}.gz"
        log.info("downloading %s", url)
        handle, temporary = tempfile.mkstemp(dir=target, prefix=f".{stem}.", suffix=".part")
        os.close(handle)
        temporary_path = Path(temporary)
        try:
            try:
                with (
                    urllib.request.urlopen(url, timeout=60) as response,
                    temporary_path.open("wb") as out,
                ):
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
            except OSError as error:
                raise UserError(f"could not download {url}: {error}") from error
            actual = md5_of(temporary_path)
            if actual != expected:
                raise UserError(f"checksum mismatch for {url}: MD5 {actual}, expected {expected}")
            os.replace(temporary_path, destination)
        finally:
            temporary_path.unlink(missing_ok=True)
