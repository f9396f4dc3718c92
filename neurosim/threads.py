"""How many CPU threads torch may use, chosen from the cores this process can actually get.

By default torch starts one intra-op thread per core of the *host*, whatever share of it the
process is allowed. Inside a container or SLURM job with a CPU quota smaller than the host, or
on a machine shared with other jobs, those threads outnumber the cores that can run them: they
spin, wait on each other and get descheduled, and fits ran many times slower while burning CPU
(``docs/model_choices.md``). So neurosim sets the thread counts itself, from the first of:

1. an explicit request (e.g. a ``--threads`` option);
2. ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS`` when ``OMP_NUM_THREADS`` is unset or invalid),
   when it is a positive integer: the user's standard way to say how many threads to use;
3. the cores available to the process: the CPU affinity mask, capped by the cgroup CPU quota
   (``ceil(quota / period)``), at least 1.

The choice and the reason for it are remembered so provenance can record them
(:func:`current_threads`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from neurosim.errors import UserError

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")

# torch creates its inter-op pool with one thread per core, but that pool only runs work that
# is launched asynchronously (torch.jit.fork, some autograd paths); neurosim's fits are chains of
# dependent tensor ops, so it is nearly idle. A few threads are enough, and never more than the
# intra-op count, so the pool cannot oversubscribe a small quota either.
MAX_INTEROP_THREADS = 4

# Environment variables that ask for a thread count, in order of precedence.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

NOT_CONFIGURED = "torch default (not configured)"


@dataclass(frozen=True)
class ThreadChoice:
    """Thread counts for torch and why they were chosen.

    Attributes:
        intra_op: threads for one op (``torch.set_num_threads``).
        inter_op: threads for running independent ops (``torch.set_num_interop_threads``).
        source: a short reason, e.g. ``"OMP_NUM_THREADS=3"`` or
            ``"affinity 16, cgroup quota 2.0 -> 2"``.
    """

    intra_op: int
    inter_op: int
    source: str


_applied: ThreadChoice | None = None


def _affinity_count() -> tuple[int, str]:
    """Cores in this process's CPU affinity mask, or the machine's count where there is no mask."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0))), "affinity"
        except OSError as error:
            log.debug("sched_getaffinity failed (%s); using os.cpu_count()", error)
    return max(1, os.cpu_count() or 1), "cpu_count"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cgroup_quota(cgroup_root: Path) -> float | None:
    """The cgroup CPU quota in cores (``quota / period``), or ``None`` when there is none.

    Reads cgroup v2 ``cpu.max`` (``"quota period"`` or ``"max period"``) and, when that is
    absent, cgroup v1 ``cpu/cpu.cfs_quota_us`` and ``cpu/cpu.cfs_period_us`` (quota ``-1``: none).
    Missing or malformed files mean no quota.
    """
    v2 = _read(cgroup_root / "cpu.max")
    if v2 is not None:
        quota_text, period_text = ([*v2.split(), ""])[:2]
        if quota_text == "max":
            return None
    else:
        for controller in ("cpu", "cpu,cpuacct"):
            quota_text = _read(cgroup_root / controller / "cpu.cfs_quota_us")
            period_text = _read(cgroup_root / controller / "cpu.cfs_period_us")
            if quota_text is not None and period_text is not None:
                break
        else:
            return None
    try:
        quota, period = int(quota_text), int(period_text)
    except ValueError:
        log.debug(
            "unreadable cgroup CPU quota %r / %r under %s; ignored", quota_text, period_text, cgroup_root
        )
        return None
    if quota <= 0 or period <= 0:  # v1 writes -1 for "no quota"
        return None
    return quota / period


def _physical_cores() -> int | None:
    """Physical cores of the machine (``None`` if unknown). With simultaneous multithreading the
    affinity mask counts two logical CPUs per core; torch's own default is the physical count,
    since two threads on one core's arithmetic units only slow each other down."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with dask's distributed
        return None
    return psutil.cpu_count(logical=False)


def available_cores(cgroup_root: Path = CGROUP_ROOT) -> tuple[int, str]:
    """The number of cores this process can use, and how that was worked out.

    The affinity mask (``os.sched_getaffinity``; ``os.cpu_count()`` where that does not exist),
    capped by the machine's physical cores and by the cgroup CPU quota rounded up to whole cores,
    and at least 1.

    Args:
        cgroup_root: where the cgroup file system is mounted (a test can point it at fake files).

    Returns:
        The count and a short source string, e.g. ``(2, "affinity 16, cgroup quota 2.0 -> 2")``
        or ``(16, "affinity 16")``.
    """
    cores, kind = _affinity_count()
    source = f"{kind} {cores}"
    physical = _physical_cores()
    if physical is not None and physical < cores:
        cores = physical
        source += f", {physical} physical cores"
    quota = _cgroup_quota(cgroup_root)
    if quota is None:
        return cores, source
    count = max(1, min(cores, math.ceil(quota)))
    return count, f"{source}, cgroup quota {round(quota, 3)} -> {count}"


def _env_threads(environ: Mapping[str, str]) -> tuple[int, str] | None:
    """The first valid positive thread count among :data:`THREAD_ENV_VARS`, with its source."""
    for name in THREAD_ENV_VARS:
        value = environ.get(name, "").strip()
        if not value:
            continue
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count >= 1:
            return count, f"{name}={count}"
        log.warning("ignoring %s=%r: not a positive integer", name, value)
    return None


def choose_threads(
    requested: int | None = None,
    environ: Mapping[str, str] | None = None,
    cgroup_root: Path = CGROUP_ROOT,
) -> ThreadChoice:
    """Decide torch's thread counts (without applying them).

    Precedence: ``requested``, then ``OMP_NUM_THREADS`` (``MKL_NUM_THREADS`` when that is unset
    or invalid), then :func:`available_cores`. An environment value that is not a positive
    integer is ignored with a warning.

    Args:
        requested: an explicit intra-op thread count, or ``None`` to decide automatically.
        environ: the environment to read (``os.environ`` by default).
        cgroup_root: where the cgroup file system is mounted.

    Returns:
        The intra-op and inter-op counts and the reason for them.

    Raises:
        UserError: if ``requested`` is given but is not a positive integer.
    """
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise UserError(f"the number of threads must be a positive integer, not {requested!r}")
        intra, source = requested, f"requested {requested}"
    else:
        from_env = _env_threads(os.environ if environ is None else environ)
        intra, source = from_env if from_env is not None else available_cores(cgroup_root)
    return ThreadChoice(intra_op=intra, inter_op=min(intra, MAX_INTEROP_THREADS), source=source)


def apply_threads(choice: ThreadChoice) -> None:
    """Set torch's thread counts to ``choice`` and remember it for :func:`current_threads`.

    The intra-op count can change at any time. The inter-op count can be set only once per
    process and only before inter-op work has started; when torch refuses, the existing value
    is kept (logged at debug level), and :func:`current_threads` reports what torch really uses.

    Args:
        choice: the counts to apply, usually from :func:`choose_threads`.
    """
    global _applied
    torch.set_num_threads(choice.intra_op)
    if torch.get_num_interop_threads() != choice.inter_op:
        try:
            torch.set_num_interop_threads(choice.inter_op)
        except RuntimeError as error:
            log.debug(
                "keeping %d inter-op threads (cannot set %d: %s)",
                torch.get_num_interop_threads(),
                choice.inter_op,
                error,
            )
    _applied = choice


def configure_threads(requested: int | None = None) -> ThreadChoice:
    """Choose torch's thread counts for this process and apply them; call once at start-up.

    Args:
        requested: an explicit intra-op thread count, or ``None`` to decide from the
            environment and the available cores.

    Returns:
        The choice that was applied.

    Raises:
        UserError: if ``requested`` is given but is not a positive integer.
    """
    choice = choose_threads(requested)
    apply_threads(choice)
    log.debug(
        "torch threads: %d intra-op, %d inter-op (%s)",
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        choice.source,
    )
    return choice


@contextlib.contextmanager
def shared_threads(processes: int) -> Iterator[int]:
    """While the block runs, this process uses its share of its threads when ``processes``
    processes split them (at least 1; :mod:`neurosim.fit_workers`); the share is recorded as the
    source of the choice, and the former choice is restored afterwards. Yields the share."""
    before = _applied or ThreadChoice(
        torch.get_num_threads(), torch.get_num_interop_threads(), NOT_CONFIGURED
    )
    share = max(1, before.intra_op // processes)
    apply_threads(
        ThreadChoice(
            share, min(share, before.inter_op), f"{before.source}; {share} per fit process of {processes}"
        )
    )
    try:
        yield share
    finally:
        apply_threads(before)


def current_threads() -> dict[str, str]:
    """Thread counts torch uses now and why, as provenance attributes.

    Returns:
        ``torch_threads``, ``torch_interop_threads`` and ``threads_source`` (the applied
        choice's source, or ``"torch default (not configured)"``).
    """
    intra = torch.get_num_threads()
    if _applied is None:
        source = NOT_CONFIGURED
    elif intra != _applied.intra_op:
        source = f"{_applied.source}; since changed to {intra} outside neurosim.threads"
    else:
        source = _applied.source
    return {
        "torch_threads": str(intra),
        "torch_interop_threads": str(torch.get_num_interop_threads()),
        "threads_source": source,
    }
