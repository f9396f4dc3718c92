"""One attack suite, applied identically to every model: white-box PGD on the model's own loss and
on a margin loss, BPDA through a differentiable view, the Square Attack, all with expectation over
the model's noise, scored per image (:func:`attack_member`; transfer from the pair's partner and
the study of a stored run: :mod:`neurosim.analysis.attack_study`).

Attacks (L-infinity, images in [0, 1], every eps of :attr:`SuiteBudget.epsilons`; references in
``docs/attacks.md``):

* ``pgd_loss``: PGD (Madry et al. 2018, :func:`neurosim.analysis.attacks.pgd_search`) on the
  model's own training loss (``model.loss``), ``steps`` steps, ``restarts`` random starts;
* ``pgd_margin``: the same on the CW margin ``max_{k != y} z_k - z_y``
  (:func:`neurosim.analysis.margin.cw_margin`), which does not saturate as cross-entropy and a
  power loss do;
* ``bpda``: ``pgd_margin`` through :func:`neurosim.analysis.bpda.differentiable_view` (straight-
  through or smooth replacements of thresholds, samplers and winner-take-all; a wider surrogate
  for spiking neurons); NaN for a model with no layer to replace;
* ``square``: the Square Attack (Andriushchenko et al. 2020, through the Adversarial Robustness
  Toolbox, :func:`neurosim.analysis.black_box.square_attack`), which descends the same margin of
  the scores it queries, ``queries`` per image.

A model whose own loss has no input gradient (``has_input_gradient``) gets NaN for ``pgd_loss``
and ``pgd_margin``. **EOT** (:mod:`neurosim.analysis.eot`): for a stochastic model every gradient
is the mean over ``eot_draws`` noise draws, the Square Attack queries the mean scores over those
draws, and every result is judged by the EOT prediction (argmax of the mean scores) over
``eot_draws`` fresh draws; a deterministic model has one draw. An image counts as correct under an
attack when the model classifies it correctly both clean and attacked (an attack cannot repair a
mistake). Shapes: ``x [N, ...]``, ``y [N]``; per-image verdicts ``[E, N]`` (eps, image).

The sanity checks need two more curves at :attr:`SuiteBudget.check_eps` with the main white-box
attack (``pgd_margin``, else ``bpda``): accuracy after ``check_steps`` and ``steps`` steps (one
restart each), and after 1..``restarts`` restarts (cumulative over the main run's restarts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from neurosim.analysis.attacks import Gradient, Judge, pgd_search
from neurosim.analysis.bpda import differentiable_view
from neurosim.analysis.eot import (
    EOT_DRAWS,
    EVALUATION_SEED,
    draw_seeds,
    eot_gradient,
    eot_scores,
    is_stochastic,
)
from neurosim.analysis.margin import cw_margin
from neurosim.analysis.masking_checks import WHITE_BOX

if TYPE_CHECKING:
    from neurosim.models.base import NeurosimModel

#: The suite's attacks, in the report's order, then the per-image minimum over them.
ATTACKS = ("pgd_loss", "pgd_margin", "bpda", "square", "transfer")
STRONGEST = "strongest"


@dataclass(frozen=True)
class SuiteBudget:
    """What every model of a comparison gets (the same for both members of every pair).

    Attributes:
        epsilons: L-infinity budgets in pixel intensity, 0 first; the largest (0.5) lets an attack
            turn every image into mid-grey, so accuracy must fall to ~0 there.
        steps: PGD steps per restart (Madry et al.'s 40); step size ``2.5 eps / steps``.
        restarts: random starts per white-box attack.
        queries: Square Attack queries per image.
        eot_draws: noise draws per gradient, per black-box score and per judged result of a
            stochastic model.
        check_eps: eps of the steps and restarts checks (a value of ``epsilons``).
        check_steps: fewer steps than ``steps`` for the steps check.
        batch_size: images per attacked batch.
        square_seconds: the Square Attack is skipped (NaN, with the estimate in
            :attr:`MemberAttacks.skipped`) for a model where ``queries x (eps > 0) x`` the time of
            one judged pass over the images exceeds this (Diehl & Cook on a CPU, where each query is a
            simulation of every image per noise draw); the white-box attacks are never skipped.
    """

    epsilons: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5)
    steps: int = 40
    restarts: int = 2
    queries: int = 500
    eot_draws: int = EOT_DRAWS
    check_eps: float = 0.1
    check_steps: tuple[int, ...] = (10, 20)
    batch_size: int = 500
    square_seconds: float = 7200.0

    def __post_init__(self) -> None:
        if self.epsilons[0] != 0 or list(self.epsilons) != sorted(set(self.epsilons)):
            raise ValueError(f"epsilons must start at 0 and increase, got {self.epsilons}")
        if self.check_eps not in self.epsilons or any(s >= self.steps for s in self.check_steps):
            raise ValueError("check_eps must be one of epsilons and check_steps below steps")


class MemberAttacks(NamedTuple):
    """One model's results under the suite (transfer is added by the study).

    Attributes:
        correct: attack -> ``[E, N]`` float, 1.0 correct / 0.0 broken per eps and image, all NaN
            where the attack does not apply.
        adversarial: ``[E, N, ...]`` the white-box examples offered to the partner for transfer
            (per image the first white-box attack's that broke this model, else ``pgd_margin``'s).
        steps_accuracy: accuracy at ``check_eps`` after ``(*check_steps, steps)`` steps.
        restarts_accuracy: accuracy at ``check_eps`` after 1..``restarts`` restarts.
        stochastic: whether EOT was applied.
        replaced: the BPDA view's replacements (``[]``: none).
        seconds: attack -> wall time (s).
        skipped: attack -> why it was skipped (the Square Attack over its time limit).
    """

    correct: dict[str, np.ndarray]
    adversarial: torch.Tensor | None
    steps_accuracy: list[float]
    restarts_accuracy: list[float]
    stochastic: bool
    replaced: list[str]
    seconds: dict[str, float]
    skipped: dict[str, str]


class Scored(NamedTuple):
    """What :func:`attack_member` needs to attack and judge one model."""

    model: NeurosimModel
    attack_seeds: list[int]
    judge: Judge
    clean: torch.Tensor  # [N] bool: correct on the clean images (EOT prediction)
    judge_seconds: float  # one judged pass over the images (all draws)


def make_judge(model: NeurosimModel, seeds: list[int], batch_size: int) -> Judge:
    """``(x, y) -> bool [N]``: the EOT prediction over ``seeds`` is ``y`` (batched, no gradient)."""

    def judge(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            scores = [eot_scores(model, x[i : i + batch_size], seeds) for i in range(0, len(x), batch_size)]
        return torch.cat(scores).argmax(1) == y

    return judge


def make_gradient(
    model: NeurosimModel,
    objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    seeds: list[int],
    through_view: bool,
) -> Gradient:
    """``(x, y) -> EOT gradient of objective`` (through the BPDA view when ``through_view``)."""

    def gradient(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not through_view:
            return eot_gradient(model, objective, x, y, seeds)
        with differentiable_view(model):
            return eot_gradient(model, objective, x, y, seeds)

    return gradient


def own_loss(model: NeurosimModel) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The model's training loss as an objective (a batch mean: the 1/B scale leaves sign-PGD alone)."""
    return lambda scores, labels: model.loss(scores, labels)


def scored(model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget) -> Scored:
    """The model with its draws (``eot_draws`` when stochastic, else one) and clean verdicts."""
    draws = budget.eot_draws if is_stochastic(model, x) else 1
    judge = make_judge(model, draw_seeds(draws, EVALUATION_SEED), budget.batch_size)
    start = time.perf_counter()
    clean = judge(x, y)
    return Scored(model, draw_seeds(draws), judge, clean, time.perf_counter() - start)


def white_box(
    target: Scored, gradient: Gradient, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget, seed: int
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """PGD at every eps of the budget: per-image verdicts ``[E, N]``, the examples ``[E, N, ...]``
    and the per-restart verdicts at ``check_eps`` ``[restarts, N]`` (clean mistakes count as broken)."""
    correct, examples, at_check = [], [], None
    for eps in budget.epsilons:
        found = [
            pgd_search(
                gradient,
                target.judge,
                x[i : i + budget.batch_size],
                y[i : i + budget.batch_size],
                eps,
                budget.steps,
                budget.restarts,
                seed,
            )
            for i in range(0, len(x), budget.batch_size)
        ]
        verdicts = torch.cat([f.correct for f in found], dim=1) & target.clean  # [R, N]
        correct.append(verdicts.all(dim=0))
        examples.append(torch.cat([f.adversarial for f in found]))
        if eps == budget.check_eps:
            at_check = verdicts
    assert at_check is not None
    return torch.stack(correct).float().numpy(), torch.stack(examples), at_check


def steps_accuracy(
    target: Scored, gradient: Gradient, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget, seed: int
) -> list[float]:
    """Accuracy at ``check_eps`` after each of ``check_steps`` steps (one restart, same seed)."""
    curve = []
    for steps in budget.check_steps:
        correct = [
            pgd_search(gradient, target.judge, x[i : i + budget.batch_size], y[i : i + budget.batch_size],
                       budget.check_eps, steps, 1, seed).correct[0]
            for i in range(0, len(x), budget.batch_size)
        ]  # fmt: skip
        curve.append(float((torch.cat(correct) & target.clean).float().mean()))
    return curve


def square_verdicts(
    target: Scored, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget, seed: int
) -> np.ndarray:
    """Square Attack verdicts ``[E, N]`` on the EOT scores (NaN for inputs that do not tile as an image)."""
    from neurosim.analysis.black_box import image_tiling, square_attack

    try:
        x.dim() == 4 or image_tiling(x[0].numel())
    except ValueError:
        return np.full((len(budget.epsilons), len(x)), np.nan)
    model, seeds = target.model, target.attack_seeds
    correct = []
    for eps in budget.epsilons:
        if eps == 0:
            correct.append(target.clean)
            continue
        adversarial = square_attack(
            model,
            x,
            y,
            eps,
            budget.queries,
            seed,
            budget.batch_size,
            scores=lambda z: eot_scores(model, z, seeds),
        )
        correct.append(target.judge(adversarial, y) & target.clean)
    return torch.stack(correct).float().numpy()


def offered_examples(
    examples: dict[str, torch.Tensor], correct: dict[str, np.ndarray]
) -> torch.Tensor | None:
    """Per eps and image, the first white-box attack's example that broke the model, else the
    first attack's (``None`` without a white-box attack): what the partner is attacked with."""
    names = [name for name in WHITE_BOX if name in examples]
    if not names:
        return None
    chosen = examples[names[0]].clone()
    taken = np.zeros(correct[names[0]].shape, dtype=bool)
    for name in names:
        broke = torch.from_numpy((correct[name] == 0) & ~taken)  # [E, N]
        chosen[broke] = examples[name][broke]
        taken |= broke.numpy()
    return chosen


def _white_box_plans(model: NeurosimModel, x: torch.Tensor, y: torch.Tensor) -> tuple[list, list[str]]:
    """``[(attack, objective, through the BPDA view)]`` that apply to ``model``, and the view's
    replacements."""
    from neurosim.analysis.eot import noise_draw
    from neurosim.analysis.robustness import has_input_gradient

    with noise_draw(model, 0):
        plans = [("pgd_loss", own_loss(model), False), ("pgd_margin", cw_margin, False)]
        plans = plans if has_input_gradient(model, x, y) else []
    with differentiable_view(model) as replaced:
        pass
    return plans + ([("bpda", cw_margin, True)] if replaced else []), replaced


def attack_member(
    model: NeurosimModel, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget, seed: int = 0
) -> MemberAttacks:
    """The suite (module docstring) on one model, in eval mode; see :class:`MemberAttacks`."""
    was_training = model.training
    model.eval()
    try:
        target = scored(model, x, y, budget)
        shape = (len(budget.epsilons), len(x))
        correct = {name: np.full(shape, np.nan) for name in ATTACKS}
        examples, at_check, seconds = {}, {}, {}
        plans, replaced = _white_box_plans(model, x, y)
        for name, objective, through_view in plans:
            start = time.perf_counter()
            gradient = make_gradient(model, objective, target.attack_seeds, through_view)
            correct[name], examples[name], at_check[name] = white_box(target, gradient, x, y, budget, seed)
            seconds[name] = time.perf_counter() - start
        steps_curve = [float("nan")] * (len(budget.check_steps) + 1)
        restarts_curve = [float("nan")] * budget.restarts
        if plans:
            main = "pgd_margin" if "pgd_margin" in at_check else "bpda"
            main_gradient = make_gradient(model, cw_margin, target.attack_seeds, main == "bpda")
            first = at_check[main][0].float().mean().item()
            steps_curve = [*steps_accuracy(target, main_gradient, x, y, budget, seed), first]
            restarts_curve = [
                at_check[main][: r + 1].all(0).float().mean().item() for r in range(budget.restarts)
            ]
        start, skipped = time.perf_counter(), {}
        estimate = target.judge_seconds * budget.queries * (len(budget.epsilons) - 1)
        if estimate > budget.square_seconds:
            skipped["square"] = f"estimated {estimate:.0f} s > {budget.square_seconds:.0f} s"
        else:
            correct["square"] = square_verdicts(target, x, y, budget, seed)
            seconds["square"] = time.perf_counter() - start
        adversarial = offered_examples(examples, correct)
    finally:
        model.train(was_training)
    stochastic = len(target.attack_seeds) > 1
    return MemberAttacks(
        correct, adversarial, steps_curve, restarts_curve, stochastic, replaced, seconds, skipped
    )


def strongest(correct: dict[str, np.ndarray]) -> np.ndarray:
    """Per eps and image, correct only if no attack broke it: the minimum over the attacks that
    apply ``[E, N]`` (NaN where none does)."""
    applied = [verdicts for verdicts in correct.values() if not np.isnan(verdicts).all()]
    if not applied:
        return np.full(next(iter(correct.values())).shape, np.nan)
    return np.nanmin(np.stack(applied), axis=0)


def transfer_verdicts(
    model: NeurosimModel, examples: torch.Tensor, x: torch.Tensor, y: torch.Tensor, budget: SuiteBudget
) -> np.ndarray:
    """Verdicts ``[E, N]`` of ``model`` (EOT prediction, as in :func:`attack_member`) on another
    model's adversarial examples ``[E, N, ...]`` of the same images."""
    was_training = model.training
    model.eval()
    try:
        target = scored(model, x, y, budget)
        return torch.stack([target.judge(batch, y) & target.clean for batch in examples]).float().numpy()
    finally:
        model.train(was_training)
