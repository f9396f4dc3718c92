"""Wall time of one comparison's fits trained by 1 process and by several (``--workers``).

Runs the comparison from scratch once per worker count (each in a fresh folder, so no fit is
reused; no report) and prints the wall time of the fits and the speed-up over one process
measured in the same run. One process uses all of this process's torch threads; N processes
get an equal share each (:mod:`neurosim.fit_workers`). Worker start-up is included, as a user
would experience it.

    python benchmarks/fit_workers.py [--comparison quickstart] [--workers 1 2] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import torch

from neurosim.config import find_comparison, load
from neurosim.runner import run_comparison
from neurosim.threads import configure_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comparison", default="quickstart")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    configure_threads()
    seeds = "seeds=[" + ", ".join(map(str, args.seeds)) + "]"
    config = load(find_comparison(args.comparison), [seeds, 'device="cpu"'])
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            run_comparison(config, root=root, workers=workers)
            rows.append((workers, time.perf_counter() - start))
    print(f"{args.comparison}, {len(config.members)} members x {len(args.seeds)} seeds, CPU, "
          f"{torch.get_num_threads()} torch threads in all")  # fmt: skip
    print("| processes | threads each | fits wall time (s) | speed-up over 1 |\n|---|---|---|---|")
    for workers, seconds in rows:
        share = max(1, torch.get_num_threads() // workers)
        print(f"| {workers} | {share} | {seconds:.1f} | {rows[0][1] / seconds:.2f}x |")


if __name__ == "__main__":
    main()
