"""The input a layer receives inside a model's forward pass: what a local rule learns from.

Local rules see only their own layer's input ``pre``. Two ways to obtain it:

* :func:`input_of` runs the forward pass only up to the layer: a forward pre-hook records the
  input and stops the pass by raising :class:`StopForward`. PyTorch has no other way to leave a
  module's ``forward`` from a hook; the exception never leaves this function. Layers above the
  one being trained then cost nothing (the unsupervised phase trains one layer at a time).
* :class:`InputCapture` keeps the latest input of each watched layer during full forward passes
  (several rules, or rules next to a backprop loss, share one pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


class StopForward(Exception):
    """Raised by :func:`input_of`'s pre-hook once the layer's input is recorded."""


@torch.no_grad()
def input_of(forward: Callable[[torch.Tensor], object], module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input ``module`` receives when ``forward`` runs on ``x`` (detached); the pass stops there.

    Raises:
        RuntimeError: the forward pass never reached ``module``.
    """
    captured: list[torch.Tensor] = []

    def stop(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0].detach())
        raise StopForward

    handle = module.register_forward_pre_hook(stop)
    try:
        forward(x)
    except StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"the forward pass never reached the layer {type(module).__name__}")
    return captured[0]


class InputCapture:
    """Keeps the latest input of each of ``modules`` (detached) while in a ``with`` block.

    ``capture[module]`` is the input of the last forward pass through ``module``.
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.modules = list(modules)
        self.latest: dict[int, torch.Tensor] = {}
        self.handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> InputCapture:
        def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
            self.latest[id(module)] = inputs[0].detach()

        self.handles = [module.register_forward_hook(keep) for module in self.modules]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def __getitem__(self, module: nn.Module) -> torch.Tensor:
        return self.latest[id(module)]
