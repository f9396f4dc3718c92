"""Training a run's fits in several processes at once (``neurosim run --workers N``).

A run folder already lets processes share its fits: each fit is trained under its own lock and a
process skips the fits that another holds (:func:`neurosim.runner.fit_under_locks`). Workers use
that and nothing else. The main process starts ``N - 1`` worker processes on its run folder and
trains beside them; every process takes the next fit that nobody holds. Each process gets
``cores // N`` threads (torch's and the compiled Diehl & Cook kernel's): the small models of a
comparison keep two threads busy poorly, so two processes with one thread each finish sooner
than one process with two (``benchmarks/fit_workers.py`` measures it).

Nothing depends on the workers finishing. A worker that fails or dies releases its lock (the
kernel does, see :mod:`neurosim.results.lock`) and leaves at most a checkpoint; the main process
then trains that fit itself, from the checkpoint. Each fit is seeded by its own seed, whoever
trains it, so a run's results are those of a run without workers at the same threads per fit
(torch's float sums may differ in the last bits between thread counts; fits record theirs). A
worker exits once no fit is left that nobody holds, and when the main process is gone (it checks
every second), so a killed run leaves no process behind; its finished fits stay and the same
command resumes.

A worker is the command ``python -m neurosim.worker --parent PID`` (:mod:`neurosim.worker`),
started early by :class:`Standby` so that its imports overlap the main process's, and told its
run folder, seeds and threads on its standard input.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: ``auto`` starts at most this many processes: beyond a few, fits on a CPU mostly compete for
#: memory bandwidth, and each process holds its own copy of the task's data.
MAX_AUTO_WORKERS = 4


def choose_workers(requested: int | str, cores: int, n_fits: int, device: str) -> int:
    """Processes to train ``n_fits`` fits with: ``requested``, or for ``"auto"`` one per core (at
    most :data:`MAX_AUTO_WORKERS`, never more than the fits) on a CPU and 1 on a GPU (one device,
    which one process keeps busy). Never more than the fits; 1 where file locks do not exist
    (Windows), since they are what keeps two processes off one fit."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        return 1
    if requested == "auto":
        requested = 1 if device == "cuda" else min(cores, MAX_AUTO_WORKERS)
    return max(1, min(int(requested), n_fits))


class Standby:
    """Worker processes started before they are needed: each imports neurosim (a few seconds)
    while the main process reads the comparison and loads the task, then waits on its stdin for
    a run folder (:meth:`assign`) or for the end of its input (:meth:`dismiss`), and exits."""

    def __init__(self, count: int) -> None:
        command = [sys.executable, "-m", "neurosim.worker", "--parent", str(os.getpid())]
        # Their own session: Ctrl-C reaches the main process only, which stops them.
        self.processes = [
            subprocess.Popen(command, stdin=subprocess.PIPE, text=True, start_new_session=True)
            for _ in range(max(0, count))
        ]
        self.dismissed: list[subprocess.Popen] = []

    def assign(self, count: int, directory: Path, seeds: list[int], threads: int) -> list[subprocess.Popen]:
        """Give ``count`` of the waiting workers (started now if too few wait) the fits of
        ``seeds`` in the run folder ``directory``, each with ``threads`` threads; dismiss the rest."""
        while len(self.processes) < count:
            self.processes += Standby(1).processes
        chosen, self.processes = self.processes[:count], self.processes[count:]
        order = json.dumps({"directory": str(directory), "seeds": list(seeds), "threads": threads})
        for process in chosen:
            try:
                process.stdin.write(order + "\n")
                process.stdin.close()
            except BrokenPipeError:  # it died starting up: its status is logged, its fits done here
                pass
        self.dismiss()
        return chosen

    def dismiss(self) -> None:
        """Let every worker still waiting exit (its input ends without a run folder) without
        waiting for it: one still importing exits when it is done (:meth:`close` reaps it)."""
        for process in self.processes:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        self.dismissed += self.processes
        self.processes = []

    def close(self) -> None:
        """Stop the workers still waiting or dismissed (they have no fits; one may still be
        importing, and a command that failed on bad input should not wait for it)."""
        self.dismiss()
        stop_workers(self.dismissed, wait=False)
        self.dismissed = []


def stop_workers(workers: list[subprocess.Popen], wait: bool) -> None:
    """Wait for the workers to finish (``wait``) or terminate them; log any that failed (their
    fits have been trained by the main process, see the module docstring)."""
    for worker in workers:
        if not wait and worker.poll() is None:
            worker.terminate()
        status = worker.wait()
        if wait and status != 0:
            log.warning(
                "a fit worker (pid %d) exited with status %d; its fits were trained here", worker.pid, status
            )


def exit_with_parent(parent: int) -> None:
    """Exit this process as soon as ``parent`` is no longer its parent (it died or was killed)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)  # no cleanup: the fit in progress keeps its last checkpoint, like a kill

    threading.Thread(target=watch, daemon=True).start()
