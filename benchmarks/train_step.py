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
from neurosim.models import MODELS
from neurosim.tasks import TASKS
from neurosim.training import Trainer


def time_steps(name: str, task, batch_size: int, steps: int, device: torch.device, repeats: int = 3) -> float:
    """Median milliseconds per training step of model ``name`` (after one warm-up step)."""
    with seeded(0):
        model = MODELS.get(name)(task.input_shape, task.n_classes).to(device)
    trainer = Trainer(model, task, TrainingConfig(batch_size=batch_size), seed=0, device=device)
    # Consecutive fresh batches: error-driven rules (the perceptron) cost more while they still
    # make mistakes, so repeating one memorised batch would flatter them.
    batches = [
        (trainer.x_train[i : i + batch_size], trainer.y_train[i : i + batch_size])
        for i in range(0, (steps + 1) * batch_size, batch_size)
    ]
    trainer._capture_inputs()
    trainer._train_step(*batches[-1])
    timings = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for x, y in batches[:steps]:
            trainer._train_step(x, y)
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
    results = {name: time_steps(name, task, args.batch_size, args.steps, device) for name in MODELS.list()}
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
