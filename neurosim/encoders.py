"""Spike encoders: static inputs in [0, 1] -> time-first inputs ``[T, B, ...]``.

* ``direct``: the analog input is the input current at every step (``x_t = x``). Nothing random;
  a model may exploit that the first layer's input current is the same at every step.
* ``rate``: Bernoulli spikes with ``P(x_t = 1) = x * max_rate`` per step (a discrete Poisson
  process; ``max_rate`` in spikes per step, 1.0 = one spike every step at full intensity).
* ``latency``: one spike per input at step ``round((1 - x) * (T - 1))`` (bright pixels fire
  first; time-to-first-spike, Thorpe et al. 2001; zero inputs never fire).

Randomness (``rate``) comes from an explicit generator owned by the encoder, seeded once. Its
state travels in the module's state dict (``get_extra_state``), so a resumed run draws the
same spikes an uninterrupted run would.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.errors import UserError
from neurosim.registry import Registry

ENCODERS: Registry[type] = Registry("encoder")


@ENCODERS.register("direct")
class DirectEncoder(nn.Module):
    """``x_t = x`` for every step (an expanded view: no copy)."""

    is_constant_in_time = True

    def __init__(self, n_steps: int, seed: int = 0) -> None:
        super().__init__()
        self.n_steps = n_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(0).expand(self.n_steps, *x.shape)


@ENCODERS.register("rate")
class RateEncoder(nn.Module):
    """Bernoulli spikes with probability ``x * max_rate`` per step."""

    is_constant_in_time = False

    def __init__(self, n_steps: int, seed: int = 0, max_rate: float = 1.0) -> None:
        super().__init__()
        if not 0.0 < max_rate <= 1.0:
            raise UserError(f"rate encoder max_rate must be in (0, 1] spikes per step, got {max_rate}")
        self.n_steps, self.max_rate = n_steps, max_rate
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probability = (x * self.max_rate).clamp(0, 1).expand(self.n_steps, *x.shape)
        # Draw on the CPU generator so the stream is the same on every device, then move.
        draws = torch.rand(probability.shape, generator=self.generator)
        return (draws.to(x.device) < probability).to(x.dtype)

    def get_extra_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


@ENCODERS.register("latency")
class LatencyEncoder(nn.Module):
    """One spike per non-zero input, earlier for larger values."""

    is_constant_in_time = False

    def __init__(self, n_steps: int, seed: int = 0) -> None:
        super().__init__()
        self.n_steps = n_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spike_time = torch.round((1 - x.clamp(0, 1)) * (self.n_steps - 1)).long()
        steps = torch.arange(self.n_steps, device=x.device).view(-1, *([1] * x.dim()))
        return ((steps == spike_time.unsqueeze(0)) & (x > 0).unsqueeze(0)).to(x.dtype)


def make_encoder(name: str, n_steps: int, seed: int = 0, **options: float) -> nn.Module:
    """Build encoder ``name`` (unknown names list the valid ones)."""
    if n_steps < 1:
        raise UserError(f"n_steps must be >= 1, got {n_steps}")
    return ENCODERS.get(name)(n_steps, seed, **options)
