"""Diehl & Cook's network: neurosim (exact and batched) against Brian2, same network and protocol.

The paper's protocol with 100 excitatory neurons (configurable): Poisson inputs for 350 ms, then
150 ms of rest, dt = 0.5 ms, so 1000 steps per image, STDP and adaptive thresholds on. For a fair
comparison, weight normalisation and the re-presentation of silent images are off on both sides
(see :func:`neurosim.reference.brian2_diehl_cook.run_protocol`); the neurosim rows with
``+ protocol`` add them back (the full paper algorithm, which is what training uses).

Rows, all on the same images and device, in one run:

- Brian2 ``cpp_standalone`` (generated C++; compile time reported separately, never in the
  per-image time), or another Brian2 target (``--brian2-target``);
- neurosim exact (batch 1: the paper's sequential algorithm, weights changing every step), by the
  compiled kernel (``simulator = "auto"``: numba's CPU kernel on a CPU, the CUDA kernel on a GPU)
  and by the torch simulation (``simulator = "torch"``, a few dozen tensor operations per step);
- neurosim batched, at each ``--batch-sizes``, with each slot plasticity: ``online`` (every slot's
  own weights change at every step) and ``deferred`` (weights fixed within a
  presentation, the changes applied after it).

Prints ms per image, images per second and the speed-up over Brian2's per-image time.

    python benchmarks/stdp_speed.py [--neurons 100] [--images 400] [--exact-images 20]
        [--torch-images N] [--brian2-images 100] [--batch-sizes 3,20] [--device auto]
        [--task fashion_mnist] [--brian2-target cpp_standalone]

``--torch-images`` caps the images of the torch-simulation rows (on a GPU they cost ~0.5 s per
image whatever the slots: the host drives every step).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import torch
from hebbian_epoch import _synchronise, fashion_or_random

from neurosim.device import device_description, resolve_device
from neurosim.models.diehl_cook_layer import BATCHED_SLOTS, DiehlCookLayer, preset


def neurosim_ms_per_image(
    params,
    images: torch.Tensor,
    n_neurons: int,
    mode: str,
    batch_size: int,
    device,
    slot_plasticity: str = "online",
    simulator: str = "auto",
) -> float:
    """Milliseconds per image for learning ``images`` (after a warm-up call)."""
    torch.manual_seed(0)
    layer = DiehlCookLayer(
        images.shape[1],
        n_neurons,
        params,
        mode=mode,
        batch_size=batch_size,
        slot_plasticity=slot_plasticity,
        simulator=simulator,
    ).to(device)
    layer.learn(images[: min(len(images), batch_size)])  # warm-up: allocations, first-call costs
    _synchronise(device)
    started = time.perf_counter()
    layer.learn(images)
    _synchronise(device)
    return 1000 * (time.perf_counter() - started) / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--images", type=int, default=400, help="images per batched measurement")
    parser.add_argument("--exact-images", type=int, default=20)
    parser.add_argument("--torch-images", type=int, default=None, help="cap for the torch rows")
    parser.add_argument("--brian2-images", type=int, default=100, help="0 skips Brian2")
    parser.add_argument("--batch-sizes", default=f"{BATCHED_SLOTS},20", help="the default slots and 20")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--task", default="fashion_mnist", help="images (random if not installed)")
    parser.add_argument("--brian2-target", default="cpp_standalone")
    args = parser.parse_args()
    device = resolve_device(args.device)
    task, source = fashion_or_random(max(args.images, args.brian2_images, args.exact_images), args.task)
    images = task.x_train.flatten(1).to(device)
    paper = preset("paper")
    fair = dataclasses.replace(paper, min_spikes=0, max_presentations=1)
    print(f"Diehl & Cook, {args.neurons} excitatory neurons, paper protocol ({paper.presentation_steps} + "
          f"{paper.rest_steps} steps per image); {source}; neurosim on {device_description(device)}, "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    rows = []
    brian2_ms = None
    if args.brian2_images:
        from neurosim.reference.brian2_diehl_cook import run_protocol

        torch.manual_seed(0)
        initial = DiehlCookLayer(images.shape[1], args.neurons, paper).weight.detach().double().numpy()
        with tempfile.TemporaryDirectory() as directory:
            timing = run_protocol(
                fair,
                images[: args.brian2_images].cpu().double().numpy(),
                initial,
                args.brian2_target,
                directory,
            )
        brian2_ms = 1000 * timing.run_seconds / args.brian2_images
        rows.append(
            (
                f"Brian2 {args.brian2_target}",
                1,
                brian2_ms,
                f"build {timing.build_seconds:.0f} s (not included)",
            )
        )
    # "auto" runs online and evaluation presentations through a compiled kernel (numba's CPU kernel,
    # neurosim/models/diehl_cook_kernel.py, or the CUDA kernel, diehl_cook_cuda.py); "torch" is the
    # tensor simulation (deferred slots always run in it).
    kernel_name = "compiled" if device.type == "cpu" else "CUDA kernel"
    torch_cap = args.torch_images or len(images)

    def count(simulator: str, wanted: int) -> int:
        return wanted if simulator == "auto" else min(wanted, torch_cap)

    for simulator in ("auto", "torch"):
        name = kernel_name if simulator == "auto" else "torch"
        for label, params in (("", fair), (" + protocol", paper)):
            exact_images = images[: count(simulator, args.exact_images)]
            ms = neurosim_ms_per_image(
                params, exact_images, args.neurons, "exact", 1, device, simulator=simulator
            )
            rows.append((f"neurosim exact {name}{label}", 1, ms, ""))
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        for plasticity, simulator in [("online", "auto"), ("online", "torch"), ("deferred", "torch")]:
            name = kernel_name if simulator == "auto" else "torch"
            batch_images = images[: max(count(simulator, args.images), batch_size)]
            for label, params in (("", fair), (" + protocol", paper)):
                ms = neurosim_ms_per_image(
                    params, batch_images, args.neurons, "batched", batch_size, device, plasticity, simulator
                )
                rows.append((f"neurosim batched {plasticity} {name}{label}", batch_size, ms, ""))
    print(f"\n{'engine':48s} {'batch':>6s} {'ms/image':>10s} {'images/s':>10s} {'vs Brian2':>10s}  note")
    for name, batch, ms, note in rows:
        ratio = f"{brian2_ms / ms:9.1f}x" if brian2_ms else "        -"
        print(f"{name:48s} {batch:6d} {ms:10.2f} {1000 / ms:10.1f} {ratio:>10s}  {note}")


if __name__ == "__main__":
    main()
