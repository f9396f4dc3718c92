"""A run folder: where its files live, which fits it holds, and its combined results.

Layout of a run folder (``<out>/<name>-<config hash>/``)::

    config.json                      resolved comparison; its seeds are those of results.nc
    fits/<member>/seed<k>.nc         one Dataset per finished fit (written atomically)
    fits/<member>/seed<k>.model.pt   the fit's trained weights (state dict)
    fits/<member>/seed<k>.ckpt.pt    training checkpoint of an unfinished fit
    fits/<member>/seed<k>.lock       held while a process trains the fit (see results/lock.py)
    results.lock                     held while a process writes results.nc and config.json
    results.nc                       every finished fit of the folder, stacked along model, seed
    report/                          written by ``neurosim report``

One consistent view: the folder's name hashes the comparison without its seeds, so runs of the
same comparison with other seeds share it (and their finished fits). ``results.nc`` therefore
combines *every* finished fit of the folder's configuration, whichever invocation trained it:
all seeds for which every member has a finished fit. ``config.json`` is written with it, under
the same lock, and lists the same seeds. A seed that some member has not finished yet (another
process is training it) is left out until a later run or ``neurosim report`` includes it.

Self-repair: a fit file that cannot be read is moved aside as ``*.corrupt`` (never deleted) with a
warning, and counts as unfinished, so the next run retrains it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from neurosim.config import ComparisonConfig, MemberConfig
from neurosim.errors import UserError
from neurosim.results.lock import FileLock
from neurosim.results.schema import combine_fits, validate_fit
from neurosim.results.storage import UnreadableFile, open_dataset, quarantine, save_dataset, write_text

log = logging.getLogger(__name__)

_SEED_FILE = re.compile(r"^seed(\d+)\.nc$")


def fit_path(directory: str | Path, member: str, seed: int, suffix: str = ".nc") -> Path:
    """Where a fit's files live: ``fits/<member>/seed<k>`` + ``.nc`` (results), ``.ckpt.pt``
    (training checkpoint), ``.model.pt`` (trained weights) or ``.lock``."""
    return Path(directory) / "fits" / member / f"seed{seed}{suffix}"


def snapshot_path(directory: str | Path, member: str, seed: int, identity: str) -> Path:
    """Where a fit keeps its checkpoint from the end of its unsupervised phase
    (:meth:`~neurosim.training.trainer.Trainer.fit`), named by the fit's identity
    (:func:`~neurosim.runner.fit_hash`), so that only a snapshot of that very fit is ever reused."""
    return fit_path(directory, member, seed, f".unsupervised-{identity}.pt")


def fit_lock(directory: str | Path, member: str, seed: int) -> FileLock:
    """The lock a process holds while it trains (or checks) one fit."""
    return FileLock(fit_path(directory, member, seed, ".lock"), f"{member} seed {seed}")


def check_out_folder(root: str | Path) -> None:
    """Raise a one-line :class:`UserError` if ``root`` cannot hold run folders (a file, or a
    folder this process may not write); creates nothing."""
    root = Path(root)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise UserError(f"output folder {str(root)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(
            f"output folder {str(root)!r}: no permission to write in {str(existing)!r} "
            "(choose another with --out)"
        )


def open_fit(path: Path, repair: bool = True) -> xr.Dataset | None:
    """A stored fit, or ``None`` if there is none, it is unreadable, or it breaks the schema
    (written by an older neurosim).

    With ``repair`` (only for a caller that holds the fit's lock) an unreadable file is moved
    aside as ``*.corrupt`` with a warning, and the fit will be retrained; without, it is skipped.
    """
    try:
        stored = open_dataset(path)
    except FileNotFoundError:
        return None
    except UnreadableFile as error:
        if repair:
            log.warning("%s; moved to %s and the fit will be retrained", error, quarantine(path))
        else:
            log.warning("%s; left out (the next run moves it aside and retrains the fit)", error)
        return None
    try:
        validate_fit(stored)
    except ValueError as error:
        log.warning("%s predates the current schema (%s); it will be recomputed", path, error)
        return None
    return stored


def fit_state(directory: Path, member: str, seed: int, identity: str) -> str:
    """What a run would do with one fit, read without changing anything: ``finished``,
    ``unreadable``, ``stale`` (another fit's file), ``resume`` (a checkpoint) or ``train``."""
    path = fit_path(directory, member, seed)
    if path.is_file():
        try:
            stored = open_dataset(path)
        except UnreadableFile:
            return "unreadable: moved aside as .corrupt and retrained"
        if stored.attrs.get("fit_hash") == identity:
            return "finished" + (" (diverged)" if stored.attrs.get("status") == "diverged" else "")
        return "stale: another fit's file, retrained"
    if fit_path(directory, member, seed, ".ckpt.pt").is_file():
        return "resumes from its checkpoint"
    return "to train"


def finished_fits(
    directory: Path,
    config: ComparisonConfig,
    identity: Callable[[MemberConfig, int], str],
    known: dict[tuple[str, int], xr.Dataset] | None = None,
) -> dict[tuple[str, int], xr.Dataset]:
    """Every finished fit in the folder that belongs to ``config``: ``{(member, seed): Dataset}``
    for the seeds on disk whose stored ``fit_hash`` equals ``identity(member, seed)``. Fits in
    ``known`` (this process's, already in memory) are taken from there instead of reread."""
    known = known or {}
    fits = {}
    for member in config.members:
        folder = Path(directory) / "fits" / member.name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = _SEED_FILE.match(path.name)
            if match is None:
                continue
            seed = int(match.group(1))
            if (member.name, seed) in known:
                fits[(member.name, seed)] = known[(member.name, seed)]
                continue
            stored = open_fit(path, repair=False)  # repairs belong to whoever holds the fit's lock
            if stored is not None and stored.attrs.get("fit_hash") == identity(member, seed):
                fits[(member.name, seed)] = stored
    return fits


def complete_seeds(config: ComparisonConfig, fits: dict[tuple[str, int], xr.Dataset]) -> list[int]:
    """Seeds for which every member has a finished fit."""
    seeds = {seed for _, seed in fits}
    return sorted(s for s in seeds if all((m.name, s) in fits for m in config.members))


def write_results(
    directory: Path,
    config: ComparisonConfig,
    identity: Callable[[MemberConfig, int], str],
    run_attrs: dict,
    known: dict[tuple[str, int], xr.Dataset] | None = None,
) -> list[int]:
    """Combine every finished fit of the folder into ``results.nc`` and write ``config.json`` with
    the same seeds, both under ``results.lock``; returns the seeds written. ``known``: fits this
    process holds in memory (see :func:`finished_fits`).

    Raises:
        UserError: if no seed has a finished fit for every member.
    """
    with FileLock(Path(directory) / "results.lock", "results.nc"):
        fits = finished_fits(directory, config, identity, known)
        seeds = complete_seeds(config, fits)
        if not seeds:
            raise UserError(f"{directory} holds no seed with a finished fit for every member")
        left_out = sorted({s for _, s in fits} - set(seeds))
        if left_out:
            log.info("seeds %s are not finished for every member yet; results.nc leaves them out", left_out)
        combined = {(m.name, s): fits[(m.name, s)] for m in config.members for s in seeds}
        resolved = config.to_dict() | {"seeds": seeds}
        attrs = run_attrs | {"config": json.dumps(resolved, sort_keys=True)}
        save_dataset(Path(directory) / "results.nc", combine_fits(combined, attrs))
        write_text(Path(directory) / "config.json", json.dumps(resolved, indent=2, sort_keys=True))
    return seeds


def stored_config(directory: Path) -> ComparisonConfig:
    """The comparison a run folder was run with (its ``config.json``)."""
    path = Path(directory) / "config.json"
    try:
        return ComparisonConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UserError(f"{directory} holds no config.json; is it a run folder?") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
