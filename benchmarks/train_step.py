"""Time per training step of every registered model, on one task, in one run.

Prints a table of milliseconds per step (median of repeats) and the ratio to the ``linear``
baseline measured in the same run, so numbers from different machines are comparable as ratios.

    python benchmarks/train_step.py [--task digits] [--batch-size 64] [--steps 20] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neurosim.config import TrainingConfig
from neurosim.device import device_description, resolve_device, seeded
from neurosim.errors import UserError
from neurosim.models import MODELS
from neurosim.models.base import TrainingBatch
from neurosim.tasks import TASKS
from neurosim.training import Trainer, TrainingCallback


def time_steps(name: str, task, batch_size: int, steps: int, device: torch.device, repeats: int = 3) -> float:
    """Median milliseconds per training step of model ``name`` (after one warm-up step)."""
    with seeded(0):
        model = MODELS.get(name)(task.input_shape, task.n_classes).to(device)
    trainer = Trainer(model, task, TrainingConfig(batch_size=batch_size), seed=0, device=device)
    # Consecutive fresh batches: error-driven rules (the perceptron) cost more while they still
    # make mistakes, so repeating one memorised batch would flatter them.
    x, y = trainer.data.x_train, trainer.data.y_train
    batches = [
        TrainingBatch(x[i : i + batch_size], y[i : i + batch_size], model)
        for i in range(0, (steps + 1) * batch_size, batch_size)
    ]
    quiet = TrainingCallback()
    timings = []
    with trainer.supervised.capture() as capture:
        trainer.supervised.step(batches[-1], capture, 0.0, quiet)
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for batch in batches[:steps]:
                trainer.supervised.step(batch, capture, 0.0, quiet)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="batches per repeat (digits has 22 of 64)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    task = TASKS.get(args.task)()
    results: dict[str, float] = {}
    for name in MODELS.list():
        try:
            results[name] = time_steps(name, task, args.batch_size, args.steps, device)
        except UserError as error:  # a model that refuses the task at its defaults (e.g. too small)
            print(f"{name}: skipped ({error})")
    baseline = results["linear"]
    print(
        f"task {args.task}, batch {args.batch_size}, device {device_description(device)}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{'model':<24}{'ms/step':>10}{'x linear':>10}")
    for name, ms in results.items():
        print(f"{name:<24}{ms:>10.3f}{ms / baseline:>10.2f}")


if __name__ == "__main__":
    main()
