"""Backward-pass differentiable approximation (BPDA): white-box gradients for models whose forward
pass thresholds, samples or picks a winner, built on the attack side from what the model exposes.

A. Athalye, N. Carlini & D. Wagner, "Obfuscated gradients give a false sense of security", ICML
2018, sec. 4.1: a layer ``h`` without a useful gradient is run as it is in the forward pass and
replaced by a smooth ``g ~ h`` in the backward pass (the straight-through estimator, Bengio,
Leonard & Courville 2013, when ``g`` is the identity)::

    forward: h(x)          backward: dh/dx := dg/dx        (as  g(x) + (h(x) - g(x)).detach())

:func:`differentiable_view` applies, for its duration, one such replacement to every layer of a
model it knows (modules are patched per instance and restored; no model file is involved):

* **LIF neurons** (``neurosim.neurons.LIF``; the surrogate-gradient SNNs): an *adaptive
  surrogate*: the spike's pseudo-derivative becomes the arctan surrogate with
  ``alpha = ADAPTIVE_ALPHA`` (0.5; the models train with 2), four times wider, so that the
  gradient reaches neurons far from threshold, where the training surrogate is ~0.
* **Rate encoder** (Bernoulli spikes, ``P = x max_rate``): straight through the expectation,
  ``g(x) = x max_rate`` (spikes forward, ``d E[s]/dx`` backward).
* **Rosenblatt's association units** ``a = [x W^T >= theta]``: ``g = sigmoid((x W^T - theta) /
  THRESHOLD_WIDTH)`` (connection counts times intensity; width 1).
* **k-means prototypes** (one-hot of the nearest): ``g = softmax(-d^2 / tau)`` over the squared
  distances, ``tau`` the per-image gap between the nearest and second-nearest (detached), so the
  winner and runner-up carry weights ``1 : e^-1``.
* **Diehl & Cook's spiking layer** (Poisson inputs -> conductance neurons with lateral
  inhibition; 1,000 simulated steps per image and noise draw): a *surrogate forward*: its spike
  counts are replaced by ``softmax(z / std(z))``, ``z = x W`` the neurons' mean input drive
  (rates ``x`` on the retina, weights ``W [D, N]``), the soft winner-take-all of its inhibition.
  The simulation is too slow to run at every gradient step and noise draw, so the steps run
  through ``g`` alone and only each restart's result is scored by the real network (outside this
  view). Its adaptive thresholds are left out: a first-order approximation (``docs/attacks.md``).

Models with none of these layers are unchanged (:func:`differentiable_view` yields ``[]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from torch import nn

#: Width of the adaptive arctan surrogate of LIF spikes (the models' default alpha is 2).
ADAPTIVE_ALPHA = 0.5
#: Width of the sigmoid that stands for a threshold unit's step, in units of its input current.
THRESHOLD_WIDTH = 1.0

#: A replacement: ``(module, attribute, new value, label)``; the attribute is restored afterwards.
Patch = tuple["nn.Module", str, object, str]


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``hard`` forward, the gradient of ``soft`` backward."""
    return soft + (hard - soft).detach()


# Each replacement reads attributes of the layer it replaces (weights, thresholds, rates); the
# layers are typed ``Any`` because their classes are imported lazily (the report imports this).
def _rate_encoder(module: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    original = module.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        expected = (x * module.max_rate).clamp(0, 1).expand(module.n_steps, *x.shape)
        return straight_through(original(x), expected)

    return forward


def _association(module: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        current = x @ module.weight.t() - module.threshold
        return straight_through((current >= 0).to(x.dtype), torch.sigmoid(current / THRESHOLD_WIDTH))

    return forward


def _prototypes(module: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    original = module.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        distance = torch.cdist(x.flatten(1), module.weight).pow(2)  # [B, K]
        nearest = distance.topk(2, dim=1, largest=False).values
        tau = (nearest[:, 1] - nearest[:, 0]).clamp_min(1e-6).detach()[:, None]
        return straight_through(original(x), torch.softmax(-distance / tau, dim=1))

    return forward


def _diehl_cook(module: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        drive = x.flatten(1) @ module.weight  # [M, N]
        return torch.softmax(drive / drive.std(dim=1, keepdim=True).clamp_min(1e-12).detach(), dim=1)

    return forward


def _patches(model: nn.Module) -> list[Patch]:
    """The replacements for every known layer of ``model`` (module docstring)."""
    from neurosim.encoders import RateEncoder
    from neurosim.models.diehl_cook_layer import DiehlCookLayer
    from neurosim.models.kmeans import Prototypes
    from neurosim.models.rosenblatt import AssociationLayer
    from neurosim.neurons import LIF, surrogate

    patches: list[Patch] = []
    for module in model.modules():
        if isinstance(module, LIF):
            patches.append((module, "spike_fn", surrogate("atan", ADAPTIVE_ALPHA), "adaptive surrogate"))
        elif isinstance(module, RateEncoder):
            patches.append((module, "forward", _rate_encoder(module), "straight-through rate encoder"))
        elif isinstance(module, AssociationLayer):
            patches.append((module, "forward", _association(module), "sigmoid for threshold units"))
        elif type(module) is Prototypes:  # not its subclasses (e.g. triangle k-means, differentiable)
            patches.append((module, "forward", _prototypes(module), "softmin over prototypes"))
        elif isinstance(module, DiehlCookLayer):
            patches.append((module, "forward", _diehl_cook(module), "soft winner-take-all of drive"))
    return patches


@contextmanager
def differentiable_view(model: nn.Module) -> Iterator[list[str]]:
    """For its duration, every known non-differentiable layer of ``model`` is replaced as in the
    module docstring; yields the replacements' labels (``[]``: nothing to replace)."""
    patches = _patches(model)
    saved = [(module, attribute, module.__dict__.get(attribute)) for module, attribute, _, _ in patches]
    for module, attribute, value, _ in patches:
        object.__setattr__(module, attribute, value)
    try:
        yield sorted({label for *_, label in patches})
    finally:
        for module, attribute, value in saved:
            if value is None:
                object.__delattr__(module, attribute)
            else:
                object.__setattr__(module, attribute, value)
