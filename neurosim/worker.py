"""One worker of a run (:mod:`neurosim.fit_workers`): trains the fits of a run folder that no
other process holds, then exits.

Command (started by :class:`neurosim.fit_workers.Standby`, not meant to be typed)::

    python -m neurosim.worker --parent PID

It imports neurosim, then reads one line of JSON from its standard input, ``{"directory": ...,
"seeds": [...], "threads": K}``, and trains; at the end of its input without a line it exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from neurosim.config import ComparisonConfig
from neurosim.fit_workers import exit_with_parent
from neurosim.models.diehl_cook_layer import compile_kernel
from neurosim.run_folder import fit_path, stored_config
from neurosim.runner import fit_under_locks, prepare_run, run_fit
from neurosim.threads import ThreadChoice, apply_threads

log = logging.getLogger(__name__)


def work(directory: Path, seeds: list[int], parent: int) -> None:
    """Train every fit of ``seeds`` in the run folder ``directory`` that nobody holds, then return.

    The comparison is the folder's ``config.json`` (written before any fit starts) with the run's
    seeds: the folder's identity leaves seeds out, so its file may list those of an earlier run.
    ``parent``: the main process's pid (its fits are skipped without a message)."""
    config = ComparisonConfig.from_dict(stored_config(directory).to_dict() | {"seeds": seeds})
    device, task = prepare_run(config, directory.parent)

    def fit(member, seed: int) -> None:
        if fit_path(directory, member.name, seed).exists():
            return  # finished (or stale): the main process loads (or retrains) it
        dataset = run_fit(config, member, task, seed, device, directory)
        log.info("%s seed %d: test accuracy %.4f", member.name, seed, float(dataset.final_test_accuracy))

    fit_under_locks(config, directory, fit, wait_for_others=False, helpers={parent}, last_first=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurosim.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    exit_with_parent(args.parent)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s worker {os.getpid()} %(name)s %(levelname)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # While the main process reads the comparison, what a first fit would otherwise do: import
    # torch._dynamo (the first optimiser does) and compile Diehl & Cook's kernel (a few seconds on
    # a fresh install; loaded from numba's cache after that).
    import torch._dynamo  # noqa: F401

    compile_kernel()
    order = sys.stdin.readline()
    if not order:
        return 0  # dismissed: the run needed no worker
    job = json.loads(order)
    threads = int(job["threads"])
    apply_threads(
        ThreadChoice(threads, threads, f"{threads} per fit process (a worker of pid {args.parent})")
    )
    try:
        work(Path(job["directory"]), [int(seed) for seed in job["seeds"]], args.parent)
    except KeyboardInterrupt:  # an interrupt sent to the worker itself: stop like a kill would
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
