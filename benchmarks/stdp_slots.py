"""Diehl & Cook's batched mode: accuracy against the number of slots, on the validation split.

The batched mode (``models.diehl_cook.mode = "batched"``) simulates S images at once
(``batch_size``), each in a slot with its own copy of the weights, and sums the slots' STDP
changes after the presentation. With one slot it is the sequential algorithm step for step (the
exact mode, the model's default), which this script runs for S = 1; with more it is a
mini-batch approximation whose cost in accuracy grows with S. This script measures that cost so
that the default number of slots is chosen from it (the largest S whose mean is within 1 point of
one slot), on validation, never on test:

    python benchmarks/stdp_slots.py [--task digits] [--neurons 100] [--seeds 0 1 2]
        [--slots 1 5 10 20 50 100] [--passes 1]

Each fit: the ``paper`` preset, ``passes`` unlabelled passes over the task's training split less
its validation part (one pass: the paper's budget for 100 and 400 neurons), classes assigned from
the labelled training images, accuracy on the validation split. Prints, per S: mean [95 % CI]
validation accuracy, the paired difference from one slot, and seconds per fit (the wall time of
the whole fit, learning and assignment), then the largest S within 1 point of one slot.
"""

from __future__ import annotations

import argparse

import numpy as np

from neurosim.analysis.statistics import mean_ci
from neurosim.results.storage import open_dataset
from neurosim.tasks import TASKS
from neurosim.tuning import Setting, run_on_validation

TOLERANCE = 0.01  # the default's mean must be within 1 point of one slot's


def base_comparison(task: str, neurons: int, seeds: list[int], images: int) -> dict:
    """A comparison of Diehl & Cook's network alone, ``images`` presented without labels."""
    return {
        "version": 1,
        "name": f"stdp_slots_{task}_{neurons}",
        "seeds": seeds,
        "device": "cpu",
        "extra_models": ["diehl_cook"],
        "task": {"name": task},
        "training": {"epochs": 1, "batch_size": 100, "n_checkpoints": 1, "unsupervised_batch_size": 500},
        "models": {"diehl_cook": {"n_neurons": neurons, "training": {"unsupervised_samples": images}}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="digits")
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 5, 10, 20, 50, 100])
    parser.add_argument("--passes", type=int, default=1)
    args = parser.parse_args()
    training_images = len(TASKS.get(args.task)().validation_task().y_train)
    base = base_comparison(args.task, args.neurons, args.seeds, args.passes * training_images)
    accuracy, seconds = {}, {}
    for slots in args.slots:
        mode = {"models.diehl_cook.mode": "batched"} if slots > 1 else {}  # one slot: the exact mode
        setting = Setting(f"{slots} slots", mode | {"models.diehl_cook.batch_size": slots})
        results = open_dataset(run_on_validation(base, setting, ["diehl_cook"]) / "results.nc")
        member = results.sel(model="diehl_cook")
        accuracy[slots] = member.final_test_accuracy.values
        seconds[slots] = np.nanmax(member.wall_time.values, axis=-1)
    print(
        f"Diehl & Cook, {args.neurons} neurons, {args.task}: {args.passes} pass(es) over "
        f"{training_images} training images, validation accuracy over seeds {args.seeds}"
    )
    print("| slots | accuracy mean [95 % CI] | minus 1 slot [95 % CI] | s per fit |")
    print("|---|---|---|---|")
    reference = accuracy[min(args.slots)]
    for slots in args.slots:
        summary, delta = mean_ci(accuracy[slots]), mean_ci(accuracy[slots] - reference)
        print(
            f"| {slots} | {summary.mean:.4f} [{summary.low:.4f}, {summary.high:.4f}] | "
            f"{delta.mean:+.4f} [{delta.low:+.4f}, {delta.high:+.4f}] | {np.mean(seconds[slots]):.0f} |"
        )
    within = [s for s in args.slots if np.mean(accuracy[s]) >= np.mean(reference) - TOLERANCE]
    print(f"largest number of slots within {TOLERANCE:.2f} of {min(args.slots)} slot(s): {max(within)}")


if __name__ == "__main__":
    main()
