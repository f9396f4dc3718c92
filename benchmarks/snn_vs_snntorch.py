"""Training-step time of neurosim's snn_mlp vs. the same network built from snnTorch.

Both networks are 784-1000-10 with Leaky/LIF neurons (beta 0.95, threshold 1, subtractive reset,
ATan surrogate), T steps of direct encoding, readout = mean output membrane, cross-entropy, Adam
(lr 5e-4). They start from the same weights, see the same batches, and give the same loss (checked
here before timing). The snnTorch network is written as in its tutorial 5: a Python loop over T
that applies fc1 -> Leaky -> fc2 -> Leaky at every step.

    python benchmarks/snn_vs_snntorch.py [--batch-size 128] [--steps 25] [--iterations 20] [--device auto]

Prints ms per training step (median over iterations) and the ratio snnTorch / neurosim.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import snntorch
import torch
import torch.nn.functional as F
from snntorch import surrogate
from torch import nn

from neurosim.device import device_description, resolve_device, seeded
from neurosim.models import MODELS


class SnnTorchMLP(nn.Module):
    """snnTorch tutorial-5 network with neurosim's readout (mean output membrane over T)."""

    def __init__(self, layers: nn.ModuleList, n_steps: int, beta: float) -> None:
        super().__init__()
        self.fc1, self.fc2 = copy.deepcopy(layers[0]), copy.deepcopy(layers[1])
        self.lif1 = snntorch.Leaky(beta=beta, spike_grad=surrogate.atan())
        self.lif2 = snntorch.Leaky(beta=beta, spike_grad=surrogate.atan())
        self.n_steps = n_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        mem1, mem2 = self.lif1.reset_mem(), self.lif2.reset_mem()
        records = []
        for _ in range(self.n_steps):
            spk1, mem1 = self.lif1(self.fc1(x), mem1)
            _, mem2 = self.lif2(self.fc2(spk1), mem2)
            records.append(mem2)
        return torch.stack(records).mean(0)


def time_training(model: nn.Module, batches: list, device: torch.device) -> tuple[float, float]:
    """Median ms per Adam step over ``batches`` and the last loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    timings, loss = [], torch.tensor(0.0)
    for index, (x, y) in enumerate(batches):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if index > 0:  # the first step warms up allocators
            timings.append((time.perf_counter() - start) * 1e3)
    return statistics.median(timings), float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25, help="time steps T")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    with seeded(0):
        ours = MODELS.get("snn_mlp")((1, 28, 28), 10, n_steps=args.steps).to(device)
    reference = SnnTorchMLP(ours.layers, args.steps, beta=0.95).to(device)
    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.rand(args.batch_size, 1, 28, 28, generator=generator).to(device),
            torch.randint(0, 10, (args.batch_size,), generator=generator).to(device),
        )
        for _ in range(args.iterations + 1)
    ]
    with torch.no_grad():
        x = batches[0][0]
        gap = float((ours(x) - reference(x)).abs().max())
    ours_ms, ours_loss = time_training(ours, batches, device)
    reference_ms, reference_loss = time_training(reference, batches, device)
    print(
        f"784-1000-10, T={args.steps}, batch {args.batch_size}, {device_description(device)}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(
        f"max |logit difference| at the same weights: {gap:.2e}; "
        f"loss after {args.iterations + 1} steps: neurosim {ours_loss:.4f}, snnTorch {reference_loss:.4f}"
    )
    print(f"{'network':<12}{'ms/step':>10}")
    print(f"{'snnTorch':<12}{reference_ms:>10.1f}")
    print(f"{'neurosim':<12}{ours_ms:>10.1f}")
    print(f"speed-up (snnTorch / neurosim): {reference_ms / ours_ms:.2f}x")


if __name__ == "__main__":
    main()
