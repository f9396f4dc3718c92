"""Wall time of the same sweep on 1 and 2 (or more) local Dask workers.

Runs a grid of digits comparisons from scratch once per worker count (each in a fresh folder, so
no cell is reused) and prints the wall time and the speed-up over one worker measured in the same
run. Cluster start-up is included, as a user would experience it.

    python benchmarks/sweep_scaling.py [--workers 1 2] [--grid task.n_per_class=10,20,50,100]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from neurosim.sweep import run_sweep

COMPARISON = """
version = 1
name = "scaling"
seeds = [0]
device = "cpu"
pairs = ["perceptron_linear", "perceptron_rosenblatt_mlp"]
[task]
name = "digits"
[training]
epochs = 5
batch_size = 16
lr = 0.01
[models.perceptron_rosenblatt]
n_association_units = 256
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--grid", action="append", default=None)
    args = parser.parse_args()
    grid = args.grid or ["task.n_per_class=10,20,50,100", "seeds=0,1"]
    logging.basicConfig(level=logging.WARNING)
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "scaling.toml"
        path.write_text(COMPARISON)
        for workers in args.workers:
            started = time.perf_counter()
            run_sweep(path, grid=grid, root=Path(scratch) / f"w{workers}", workers=workers)
            times[workers] = time.perf_counter() - started
    print(f"grid {grid}, {os.cpu_count()} cores")
    print(f"{'workers':>8}{'wall s':>10}{'speed-up':>10}")
    for workers, seconds in times.items():
        print(f"{workers:>8}{seconds:>10.1f}{times[args.workers[0]] / seconds:>10.2f}")


if __name__ == "__main__":
    main()
