"""Gradient attacks under an L-infinity budget: FGSM and multi-step PGD with random restarts.

I. Goodfellow, J. Shlens & C. Szegedy, "Explaining and harnessing adversarial examples", ICLR
2015 (FGSM); A. Madry et al., "Towards deep learning models resistant to adversarial attacks",
ICLR 2018 (PGD). For a model ``f``, its own training loss ``L`` (``model.loss``: cross-entropy
for most models, the power loss for Krotov-Hopfield), an input ``x`` with label ``y`` and a budget
``eps`` in input units (pixels in [0, 1])::

    FGSM:  x' = clip(x + eps sign(grad_x L(f(x), y)))
    PGD:   x_0 = clip(x + U(-eps, eps))                      (random start, per restart)
           x_{t+1} = clip(P_eps(x_t + alpha sign(grad_x L(f(x_t), y))))

``P_eps`` projects onto the ball ``||x' - x||_inf <= eps`` and ``clip`` onto the input bounds.
Defaults follow Madry et al.: ``alpha = 2.5 eps / steps`` and 40 steps. Over restarts each image
keeps the first adversarial example that is misclassified (else the last), so accuracy under
attack is the fraction of images that no restart broke. Models run in eval mode; gradients flow
to the input only (surrogate gradients for spiking models). Shapes: ``x [B, ...]``, ``y [B]``.

:func:`pgd_search` is the same iteration for any objective and any judge of success: the attack
suite (:mod:`neurosim.analysis.attack_suite`) gives it a margin loss, gradients averaged over
noise draws (:mod:`neurosim.analysis.eot`) or taken through a differentiable view
(:mod:`neurosim.analysis.bpda`), and a judge that scores each restart on fresh draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch

from neurosim.evaluation import accuracy

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

BOUNDS = (0.0, 1.0)


def _input_gradient(model: NeurosimModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = model.loss(model(x), y)
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def fgsm(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, eps: float, bounds: tuple[float, float] = BOUNDS
) -> torch.Tensor:
    """One signed-gradient step of size ``eps`` (the fast gradient sign method)."""
    was_training = model.training
    model.eval()
    try:
        return (x + eps * _input_gradient(model, x, y).sign()).clamp(*bounds).detach()
    finally:
        model.train(was_training)


def pgd_linf(
    model: NeurosimModel,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    restarts: int = 1,
    seed: int = 0,
    bounds: tuple[float, float] = BOUNDS,
) -> torch.Tensor:
    """Projected gradient descent on the loss within the L-infinity ball of radius ``eps``."""
    if eps < 0 or steps < 1 or restarts < 1:
        raise ValueError(f"need eps >= 0, steps >= 1 and restarts >= 1; got {eps}, {steps}, {restarts}")
    alpha = 2.5 * eps / steps if step_size is None else step_size
    generator = torch.Generator(device=x.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    best = x.clone()
    try:
        broken = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(restarts):
            noise = (torch.rand(x.shape, generator=generator, device=x.device) * 2.0 - 1.0) * eps
            adversarial = (x + noise).clamp(*bounds)
            for _ in range(steps):
                step = adversarial + alpha * _input_gradient(model, adversarial, y).sign()
                adversarial = torch.minimum(torch.maximum(step, x - eps), x + eps).clamp(*bounds).detach()
            with torch.no_grad():
                fooled = model(adversarial).argmax(1) != y
            update = ~broken  # keep the first success of each image; otherwise the latest try
            best[update] = adversarial[update]
            broken |= fooled
        return best
    finally:
        model.train(was_training)


def adversarial_examples(
    model: NeurosimModel,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    attack: str = "pgd",
    batch_size: int = 500,
    **options,
) -> torch.Tensor:
    """Adversarial versions of ``x`` crafted on ``model`` in batches (``attack``: ``fgsm`` or ``pgd``)."""
    attacks = {"fgsm": fgsm, "pgd": pgd_linf}
    if attack not in attacks:
        raise ValueError(f"unknown attack {attack!r}; valid choices: {', '.join(attacks)}")
    return torch.cat(
        [
            attacks[attack](
                model, x[start : start + batch_size], y[start : start + batch_size], eps, **options
            )
            for start in range(0, len(x), batch_size)
        ]
    )


def accuracy_under_attack(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, eps: float, attack: str = "pgd", **options
) -> float:
    """Test accuracy on adversarial versions of ``x`` crafted on the model itself (``options``: those
    of :func:`adversarial_examples`)."""
    return accuracy(model, adversarial_examples(model, x, y, eps, attack, **options), y)


#: ``(x_adv [B, ...], y [B]) -> d objective / d x_adv`` (the objective to ascend).
Gradient = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``(x_adv [B, ...], y [B]) -> bool [B]``: whether the model still answers each image correctly.
Judge = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SearchResult(NamedTuple):
    """What :func:`pgd_search` found.

    Attributes:
        adversarial: ``[B, ...]`` each image's first adversarial example that the judge found
            misclassified, else its last restart's.
        correct: ``[restarts, B]`` bool, the judge's verdict on each restart's result.
    """

    adversarial: torch.Tensor
    correct: torch.Tensor


def pgd_search(
    gradient: Gradient,
    judge: Judge,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int = 40,
    restarts: int = 1,
    seed: int = 0,
    bounds: tuple[float, float] = BOUNDS,
) -> SearchResult:
    """L-infinity PGD (module docstring: random start, ``alpha = 2.5 eps / steps``) ascending the
    objective whose gradient ``gradient`` gives; each restart's result is judged by ``judge``.
    The caller puts the model in eval mode."""
    if eps < 0 or steps < 1 or restarts < 1:
        raise ValueError(f"need eps >= 0, steps >= 1 and restarts >= 1; got {eps}, {steps}, {restarts}")
    alpha = 2.5 * eps / steps
    generator = torch.Generator(device=x.device).manual_seed(seed)
    best, verdicts = x.clone(), []
    broken = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(restarts):
        noise = (torch.rand(x.shape, generator=generator, device=x.device) * 2.0 - 1.0) * eps
        adversarial = (x + noise).clamp(*bounds)
        for _ in range(steps):
            step = adversarial + alpha * gradient(adversarial, y).sign()
            adversarial = torch.minimum(torch.maximum(step, x - eps), x + eps).clamp(*bounds).detach()
        correct = judge(adversarial, y)
        update = ~broken  # keep the first success of each image; otherwise the latest try
        best[update] = adversarial[update]
        broken |= ~correct
        verdicts.append(correct)
    return SearchResult(best, torch.stack(verdicts))
