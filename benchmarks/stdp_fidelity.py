"""Diehl & Cook: neurosim's network against a literal Brian2 port of the released training loop.

Issue #21's fidelity check. The port (:mod:`neurosim.reference.brian2_released_protocol`) runs
the released script's protocol: forward Euler, input delays U[0, 10] ms, theta from 20 mV with
the 20 mV offset, weights normalised before every presentation, re-presentation with a brighter
input. neurosim runs its ``exact`` mode with the ``paper`` preset. Both learn from the same first
``--images`` training images of the MNIST 10k subset (task ``mnist_10k``), from the same initial
weights per seed, with their own random numbers; the statistics and the tolerance are
:mod:`neurosim.reference.fidelity`'s.

Besides neurosim's default (forward Euler with its bound), the table compares: a second set of
the port's seeds (the noise floor: two runs of the same engine), the port without delays (what
the delays change), neurosim with unbounded Euler (the released code's integration literally) and
with ``step_averaged`` (fit version 4's default), and two deliberately wrong settings that the
check must catch (thresholds from 0 without the offset, as neurosim did before fit version 3;
exponential Euler, which inflates every EPSP by 27 %):

    python benchmarks/stdp_fidelity.py [--images 300] [--neurons 100] [--seeds 0 1 2]

Prints, per engine, the statistics and each difference from the port with delays, marked
``ok`` or ``OUT`` against the tolerance. ``--dt-sweep`` prints instead neurosim's spikes per
image, theta increase and re-presentations at dt = 0.5, 0.25 and 0.1 ms for forward Euler and
``step_averaged`` (no Brian2): which integrator is nearer the dt -> 0 limit at the paper's step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neurosim.reference.brian2_released_protocol import run_released_protocol
from neurosim.reference.fidelity import TOLERANCE, compare, initial_weights, run_neurosim
from neurosim.tasks import TASKS


def training_images(count: int) -> np.ndarray:
    """The first ``count`` training images of the 10k subset, ``[count, 784]`` in [0, 1]."""
    task = TASKS.get("mnist_10k")()
    return task.x_train[:count].reshape(count, -1).double().numpy()


def engines(images: np.ndarray, neurons: int, seeds: list[int]) -> dict:
    """Each engine's runs (one per seed), keyed by a label; the reference first."""
    weights = {seed: initial_weights(images.shape[1], neurons, seed) for seed in seeds}

    def port(delays: bool, offset: int = 0):
        return [run_released_protocol(images, weights[s], seed=s + offset, delays=delays) for s in seeds]

    def neurosim(**constants):
        return [run_neurosim(images, weights[s], seed=s, **constants) for s in seeds]

    runs = {}
    for label, make in (
        ("Brian2 port of the released code", lambda: port(True)),
        ("neurosim exact, paper preset (forward Euler, bounded)", lambda: neurosim()),
        ("Brian2 port, other random seeds (noise floor)", lambda: port(True, offset=1000)),
        ("Brian2 port without delays", lambda: port(False)),
        ("neurosim exact, forward Euler unbounded", lambda: neurosim(integration="euler_unbounded")),
        ("neurosim exact, step_averaged (fit version 4)", lambda: neurosim(integration="step_averaged")),
        ("WRONG: neurosim, theta from 0 without offset", lambda: neurosim(theta_start=0.0, theta_offset=0.0)),
        ("WRONG: neurosim, exponential Euler", lambda: neurosim(integration="exponential_euler")),
    ):
        started = time.perf_counter()
        runs[label] = make()
        print(f"  {label}: {time.perf_counter() - started:.0f} s", flush=True)
    return runs


def dt_sweep(images: np.ndarray, neurons: int, seeds: list[int]) -> None:
    """neurosim's statistics at smaller steps, for both integrators (means over seeds and images)."""
    weights = {s: initial_weights(images.shape[1], neurons, s) for s in seeds}
    print("| dt (ms) | integration | spikes per image | theta - 20 mV | re-presentations per image |")
    print("|---|---|---|---|---|")
    for dt in (0.5, 0.25, 0.1):
        for integration in ("euler", "step_averaged"):
            constants = {"dt": dt, "integration": integration}
            runs = [run_neurosim(images, weights[s], s, **constants) for s in seeds]
            spikes = np.mean([r.counts.sum(axis=1).mean() for r in runs])
            theta = np.mean([(r.theta - 20.0).mean() for r in runs])
            again = np.mean([r.presentations.mean() - 1 for r in runs])
            print(f"| {dt} | {integration} | {spikes:.2f} | {theta:.3f} | {again:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dt-sweep", action="store_true", help="neurosim alone at dt 0.5, 0.25, 0.1 ms")
    args = parser.parse_args()
    images = training_images(args.images)
    if args.dt_sweep:
        dt_sweep(images, args.neurons, args.seeds)
        return
    print(f"Diehl & Cook, {args.neurons} neurons, first {args.images} training images, MNIST 10k subset")
    runs = engines(images, args.neurons, args.seeds)
    reference_label, reference = next(iter(runs.items()))
    print(f"\nreference: {reference_label}, seeds {args.seeds}; tolerance {TOLERANCE}\n")
    first = compare(reference, reference)
    print("| engine | " + " | ".join(first.summary) + " | " + " | ".join(TOLERANCE) + " | agrees |")
    print("|---" * (len(first.summary) + len(TOLERANCE) + 2) + "|")
    for label, engine_runs in runs.items():
        fidelity = compare(reference, engine_runs)
        values = " | ".join(f"{b:.3g}" for _, b in fidelity.summary.values())
        marks = " | ".join(
            f"{fidelity.difference[key]:.3f} {'ok' if fidelity.difference[key] <= limit else 'OUT'}"
            for key, limit in TOLERANCE.items()
        )
        print(f"| {label} | {values} | {marks} | {'yes' if fidelity.agrees else 'NO'} |")


if __name__ == "__main__":
    main()
