"""Surrogate spike functions: a Heaviside step forward, a smooth pseudo-derivative backward.

Forward: ``S = H(x) = 1 if x > 0 else 0`` with ``x = U - theta``. Backward (dS/dx replaced by):

* ``fast_sigmoid`` (SuperSpike; Zenke & Ganguli 2018, Neural Comput. 30:1514):
  ``1 / (k |x| + 1)^2``, slope ``k`` (default 25).
* ``atan`` (Fang et al. 2021, ICCV): ``(alpha / 2) / (1 + (pi/2 * alpha * x)^2)``, ``alpha`` (default 2).

These are exactly snnTorch's ``surrogate.fast_sigmoid`` and ``surrogate.atan`` (its defaults
included), which the equivalence tests check.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from neurosim.registry import Registry


class _HeavisideSurrogate(torch.autograd.Function):
    """Heaviside forward; subclasses give the pseudo-derivative used backward."""

    @staticmethod
    def derivative(x: torch.Tensor, scale: float) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.scale = scale
        return (x > 0).to(x.dtype)

    @classmethod
    def backward(cls, ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return cls.derivative(x, ctx.scale) * grad_output, None


class _FastSigmoid(_HeavisideSurrogate):
    @staticmethod
    def derivative(x: torch.Tensor, slope: float) -> torch.Tensor:
        return 1.0 / (slope * x.abs() + 1.0) ** 2


class _ATan(_HeavisideSurrogate):
    @staticmethod
    def derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)


SurrogateSpike = Callable[[torch.Tensor], torch.Tensor]

#: name -> (factory taking the scale, default scale)
SURROGATES: Registry[tuple[Callable[[float], SurrogateSpike], float]] = Registry("surrogate")
SURROGATES.add("fast_sigmoid", (lambda slope: lambda x: _FastSigmoid.apply(x, slope), 25.0))
SURROGATES.add("atan", (lambda alpha: lambda x: _ATan.apply(x, alpha), 2.0))


def surrogate(name: str, scale: float | None = None) -> SurrogateSpike:
    """The spike function ``name`` with its scale (slope or alpha; the default when ``None``)."""
    factory, default = SURROGATES.get(name)
    return factory(default if scale is None else scale)
