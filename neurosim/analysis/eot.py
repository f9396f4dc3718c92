"""Expectation over transformation (EOT) for models whose output is random: attacks and scores
averaged over draws of the model's noise.

A. Athalye, N. Carlini & D. Wagner, "Obfuscated gradients give a false sense of security:
circumventing defenses to adversarial examples", ICML 2018, sec. 4.3 (and Athalye, Engstrom, Ilyas
& Kwok, "Synthesizing robust adversarial examples", ICML 2018). A model ``f(x; xi)`` with noise
``xi`` (Bernoulli spikes of a rate encoder, Poisson inputs of Diehl & Cook's network, dropout)
is attacked through its expectation::

    grad_x E_xi[L(f(x; xi), y)]  ~  (1/K) sum_{k=1..K} grad_x L(f(x; xi_k), y)

and scored the same way: the **EOT prediction** is ``argmax_c (1/K) sum_k f_c(x; xi_k)`` (the
argmax of the mean scores over ``K`` draws; the scores as the model gives them, logits or mean
spike counts), and a black-box attack sees those mean scores. Accuracy under attack is the
accuracy of the EOT prediction on fresh draws (:data:`EVALUATION_SEED`), not those the attack used.
A deterministic model gets ``K = 1`` and is unchanged.

**Noise sources** (:func:`noise_sources`): draw ``k`` is made reproducible by seeding, for its
duration, torch's global generator (noise drawn with ``torch.rand``/``randn``), every
``torch.Generator`` a module keeps as ``generator`` (:class:`neurosim.encoders.RateEncoder`) and
every integer ``encoding_seed`` a module keeps (:class:`~neurosim.models.diehl_cook_layer.
DiehlCookLayer`, which reseeds its Poisson generator from it at every call: its output is a fixed
function of the batch, yet a different noise realisation for the same image in another batch, so
it is treated as stochastic). **Detection** (:func:`is_stochastic`): the model's scores for the
same inputs differ between two draws (or between two plain calls, for noise the model draws from
an unseeded source).

Shapes: ``x [B, ...]``, ``y [B]``, scores ``[B, C]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch import nn

#: Draws of the model's noise per gradient and per black-box score (Athalye et al. use 30-80 on
#: ImageNet; the digits models' class scores average over 10-25 Bernoulli steps already).
EOT_DRAWS = 8
#: First seed of the draws that score an attack's result, far from the attack's own draws (0...).
EVALUATION_SEED = 1_000_003


def noise_sources(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, attribute)`` of every seedable noise source the model exposes (module docstring)."""
    sources = []
    for module in model.modules():
        if isinstance(getattr(module, "generator", None), torch.Generator):
            sources.append((module, "generator"))
        if isinstance(getattr(module, "encoding_seed", None), int):
            sources.append((module, "encoding_seed"))
    return sources


@contextmanager
def noise_draw(model: nn.Module, seed: int) -> Iterator[None]:
    """For its duration, every noise source of ``model`` (and torch's global generator) draws from
    ``seed``; their states are restored afterwards."""
    saved = []
    for module, attribute in noise_sources(model):
        value = getattr(module, attribute)
        if attribute == "generator":
            saved.append((module, attribute, value.get_state()))
            value.manual_seed(seed)
        else:
            saved.append((module, attribute, value))
            setattr(module, attribute, seed)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        for module, attribute, value in saved:
            if attribute == "generator":
                getattr(module, attribute).set_state(value)
            else:
                setattr(module, attribute, value)


def is_stochastic(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether the model's scores for the first few inputs ``x`` change with the noise draw."""
    probe = x[:8]
    with torch.no_grad():
        with noise_draw(model, 1):
            first = model(probe)
        with noise_draw(model, 2):
            second = model(probe)
        plain = model(probe), model(probe)
    return not (torch.equal(first, second) and torch.equal(*plain))


def draw_seeds(draws: int, first: int = 0) -> list[int]:
    """The seeds of ``draws`` draws starting at ``first`` (attack draws: 0...; scoring draws:
    :data:`EVALUATION_SEED`...)."""
    return list(range(first, first + draws))


def eot_scores(model: nn.Module, x: torch.Tensor, seeds: list[int]) -> torch.Tensor:
    """Mean scores ``[B, C]`` over the draws ``seeds`` (one draw: the model's scores under it)."""
    total = None
    for seed in seeds:
        with noise_draw(model, seed):
            scores = model(x)
        total = scores if total is None else total + scores
    assert total is not None, "EOT needs at least one draw"
    return total / len(seeds)


def eot_gradient(
    model: nn.Module,
    objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    seeds: list[int],
) -> torch.Tensor:
    """``(1/K) sum_k grad_x sum_b objective(f(x; xi_k), y)_b`` ``[B, ...]``: the gradient of each
    image's objective (``[B]`` per draw) averaged over the draws ``seeds``."""
    x = x.detach().requires_grad_(True)
    total = torch.zeros_like(x)
    for seed in seeds:
        with noise_draw(model, seed):
            value = objective(model(x), y).sum()
        if value.requires_grad:
            total += _grad(value, x)
    return total / len(seeds)


def _grad(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``d value / d x``, zeros where the graph does not reach ``x``."""
    (gradient,) = torch.autograd.grad(value, x, allow_unused=True)
    return torch.zeros_like(x) if gradient is None else gradient
