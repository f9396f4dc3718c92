"""Diehl & Cook's 400-neuron network trained on 60,000 images on one device: wall time and accuracy.

The Diehl & Cook 400 repro card's protocol (``repro/diehl_cook_400.toml``: the MNIST 10k subset,
60,000 images presented without labels, classes assigned from the training responses, tested on
the subset's test split), one seed, run through the same runner as the card, with the batched
mode at its default slots (:data:`~neurosim.models.diehl_cook_layer.BATCHED_SLOTS`) and, with
``--modes batched exact``, the paper's sequential algorithm as the baseline of the same run. On a
CUDA device both run the CUDA kernel (:mod:`neurosim.models.diehl_cook_cuda`); issue #21's goal is
60,000 images at the default slots in <= 2 min on a GPU.

    python benchmarks/stdp_gpu.py [--device auto] [--modes batched] [--images 60000] [--seed 0]
        [--neurons 400] [--out DIR]

Prints, per mode: slots, the unsupervised phase's seconds (the 60,000 presentations, what the goal
is about), images per second, the whole fit's seconds (with the assignment and test simulations),
test accuracy on the 10k subset, whether the convergence check says the network learnt, and the
ratio of each mode's unsupervised time to the first mode's.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

from neurosim.device import device_description, resolve_device
from neurosim.models.diehl_cook_layer import BATCHED_SLOTS
from neurosim.progress import progress_factory
from neurosim.repro.card import Ablation, find_card
from neurosim.results.storage import open_dataset
from neurosim.runner import run_comparison


def mode_overrides(mode: str, args: argparse.Namespace) -> tuple[str, ...]:
    """The card's protocol for one seed, ``images`` presented, on the device, in ``mode``."""
    overrides = [
        f"seeds=[{args.seed}]",
        f'device="{args.device}"',
        f"models.diehl_cook.n_neurons={args.neurons}",
        f"models.diehl_cook.training.unsupervised_samples={args.images}",
        f'models.diehl_cook.mode="{mode}"',
    ]
    return tuple(overrides)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--modes", nargs="+", default=["batched"], choices=["batched", "exact"])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--neurons", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # progress, with an ETA
    card = find_card("diehl_cook_400")
    print(
        f"Diehl & Cook, {args.neurons} neurons, {args.images} images presented, the diehl_cook_400"
        f" card's protocol, seed {args.seed}, on {device_description(resolve_device(args.device))}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for mode in args.modes:
            ablation = Ablation(f"{mode}_{args.images}", mode, mode_overrides(mode, args))
            started = time.perf_counter()
            config = card.comparison("card", ablation)
            run_dir = run_comparison(config, root=args.out or scratch, progress=progress_factory("log"))
            seconds = time.perf_counter() - started
            fit = open_dataset(run_dir / "fits" / "diehl_cook" / f"seed{args.seed}.nc")
            learnt = {1: "yes", 0: "NO"}.get(fit.attrs.get("learnt"), "not checked")
            slots = BATCHED_SLOTS if mode == "batched" else 1
            unsupervised = float(fit.attrs["unsupervised_seconds"])
            accuracy = float(fit.final_test_accuracy)
            rows.append((mode, slots, unsupervised, seconds, accuracy, learnt))
    print(f"\n{'mode':8s} {'slots':>5s} {'learn s':>8s} {'images/s':>9s} {'fit s':>7s} {'test acc':>8s}"
          f" {'ratio':>6s}  learnt")  # fmt: skip
    for mode, slots, unsupervised, seconds, accuracy, learnt in rows:
        ratio = rows[0][2] / unsupervised
        print(f"{mode:8s} {slots:5d} {unsupervised:8.1f} {args.images / unsupervised:9.1f} {seconds:7.1f}"
              f" {accuracy:8.4f} {ratio:5.2f}x  {learnt}")  # fmt: skip


if __name__ == "__main__":
    main()
