"""The attack suite: EOT changes the verdict on a stochastic model, the gradient-masking checks fail
on a model with shattered gradients and pass on a plain linear one, and PGD on the margin does not
get weaker with more steps or restarts (tiny models, tens of images; all but the first are marked
slow: each runs thousands of gradient steps)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.attack_suite import SuiteBudget, attack_member, make_gradient, make_judge, strongest
from neurosim.analysis.attacks import pgd_search
from neurosim.analysis.eot import EVALUATION_SEED, draw_seeds, is_stochastic, noise_draw
from neurosim.analysis.margin import cw_margin
from neurosim.analysis.masking_checks import sanity_checks
from neurosim.extras import missing

needs_art = pytest.mark.skipif(missing("attacks") is not None, reason="needs the attacks extra")
D = 64


def _direction() -> torch.Tensor:
    """A balanced +-1 vector: ``u . 1 = 0``."""
    u = torch.ones(D)
    u[torch.randperm(D, generator=torch.Generator().manual_seed(0))[: D // 2]] = -1.0
    return u


def _data(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = 0.5 + 0.1 s u`` (class 0 for ``s = +1``): an L-inf perturbation breaks an image of
    the linear scores ``(u.(x - 0.5), -u.(x - 0.5))`` only beyond eps = 0.1."""
    sign = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    return 0.5 + 0.1 * sign[:, None] * _direction(), (sign < 0).long()


class LinearScores(nn.Module):
    """Scores ``(x - 0.5) (W + sigma A)^T`` with ``W = (u, -u)`` and ``A ~ N(0, 1)`` drawn anew at
    every call (``sigma = 0``: deterministic), plus ``shatter * sum_i W_ci (sin(1000 x_i) - its
    value)``: zero forward, a gradient whose sign per pixel is pseudo-random (a shattered gradient,
    Athalye et al. 2018)."""

    def __init__(self, sigma: float = 0.0, shatter: float = 0.0) -> None:
        super().__init__()
        self.weight = torch.stack([_direction(), -_direction()])
        self.sigma, self.shatter = sigma, shatter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        weight = self.weight + self.sigma * torch.randn(self.weight.shape)
        scores = (x - 0.5) @ weight.T
        wiggle = torch.sin(1000 * x)
        return scores + self.shatter * (wiggle - wiggle.detach()) @ self.weight.T

    def loss(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(scores, y)


def test_a_model_with_fresh_noise_is_stochastic_and_a_plain_one_is_not():
    x, _ = _data()
    assert is_stochastic(LinearScores(sigma=1.0), x)
    assert not is_stochastic(LinearScores(), x)
    with noise_draw(LinearScores(sigma=1.0), 5):
        first = LinearScores(sigma=1.0)(x)
    with noise_draw(LinearScores(sigma=1.0), 5):
        assert torch.equal(first, LinearScores(sigma=1.0)(x))  # a draw is reproducible


@pytest.mark.slow  # 5-20 s on 2 shared cores
def test_eot_breaks_a_noisy_model_that_single_draw_pgd_leaves_standing():
    # sigma = 10 against weights of +-1: one draw's gradient has the right sign on ~54 % of the
    # pixels, the mean of 64 draws on ~79 %; the judge averages 32 fresh draws (clean: 1.0).
    model, (x, y) = LinearScores(sigma=10.0), _data()
    judge = make_judge(model, draw_seeds(32, EVALUATION_SEED), 100)
    assert judge(x, y).all()

    def single_draw(adversarial: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversarial = adversarial.detach().requires_grad_(True)
        return torch.autograd.grad(cw_margin(model(adversarial), labels).sum(), adversarial)[0]

    eot = make_gradient(model, cw_margin, draw_seeds(64), through_view=False)
    torch.manual_seed(0)
    without = pgd_search(single_draw, judge, x, y, 0.3, steps=40).correct.float().mean().item()
    with_eot = pgd_search(eot, judge, x, y, 0.3, steps=40).correct.float().mean().item()
    assert without >= 0.8  # without EOT the model looks robust ...
    assert with_eot <= 0.1  # ... with EOT it is not


def _checks(model: nn.Module) -> dict[str, bool | None]:
    x, y = _data(30)
    budget = SuiteBudget(epsilons=(0.0, 0.1, 0.3, 0.5), steps=10, restarts=2, queries=100, check_eps=0.3,
                         check_steps=(5,))  # fmt: skip
    found = attack_member(model, x, y, budget)
    curves = {name: verdicts.mean(axis=1) for name, verdicts in found.correct.items()}
    return {c.name: c.passed for c in sanity_checks(curves, found.steps_accuracy, found.restarts_accuracy)}


@pytest.mark.slow  # 5-20 s on 2 shared cores
@needs_art
def test_masking_checks_fail_on_shattered_gradients_and_pass_on_a_plain_model():
    plain = _checks(LinearScores())
    assert plain["falls_to_zero"] and plain["white_beats_black"] and plain["monotone_in_eps"]
    assert plain["monotone_in_steps"] and plain["monotone_in_restarts"]
    shattered = _checks(LinearScores(shatter=0.01))
    assert shattered["falls_to_zero"] is False  # PGD cannot follow the gradient ...
    assert shattered["white_beats_black"] is False  # ... while the Square Attack breaks it


@pytest.mark.slow  # 5-20 s on 2 shared cores
@needs_art
def test_the_suite_applies_eot_and_its_strongest_attack_breaks_the_noisy_model():
    x, y = _data(20)
    budget = SuiteBudget(epsilons=(0.0, 0.3), steps=20, restarts=1, queries=20, eot_draws=32, check_eps=0.3,
                         check_steps=(10,))  # fmt: skip
    found = attack_member(LinearScores(sigma=10.0), x, y, budget)
    assert found.stochastic and found.replaced == []
    assert np.isnan(found.correct["bpda"]).all() and np.isnan(found.correct["transfer"]).all()
    assert found.correct["pgd_margin"][0].mean() >= 0.9  # clean, judged over 32 fresh draws
    assert strongest(found.correct)[1].mean() <= 0.2


@pytest.mark.slow  # 5-20 s on 2 shared cores
def test_margin_pgd_does_not_weaken_with_more_steps_or_restarts():
    torch.manual_seed(0)
    x = torch.rand(60, 16)
    teacher = nn.Linear(16, 3)
    y = teacher(x).argmax(1)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 3))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    judge = make_judge(model, [0], 100)
    keep = judge(x, y)
    x, y = x[keep], y[keep]
    gradient = make_gradient(model, cw_margin, [0], through_view=False)
    by_steps = [
        pgd_search(gradient, judge, x, y, 0.05, steps=s).correct.float().mean().item() for s in (2, 10, 40)
    ]
    restarts = pgd_search(gradient, judge, x, y, 0.05, steps=10, restarts=4).correct
    by_restarts = [restarts[: r + 1].all(0).float().mean().item() for r in range(4)]
    assert 0.1 < by_steps[0] < 1.0  # an eps where the attack is partly successful
    assert all(b <= a + 0.03 for a, b in itertools.pairwise(by_steps))
    assert all(b <= a for a, b in itertools.pairwise(by_restarts))


class _Page:
    """Records what a section writes."""

    def __init__(self) -> None:
        self.tables: list = []
        self.figures: list[str] = []
        self.texts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.texts.append(text)

    def paragraph(self, text: str) -> None:
        self.texts.append(text)

    def table(self, header, rows) -> None:
        self.tables.append((list(header), [list(r) for r in rows]))

    def figure(self, figure, name: str, caption: str, tight: bool = True) -> None:
        self.figures.append(name)


@needs_art
@pytest.mark.slow  # ~1 min: two models, two seeds, the whole suite
def test_the_suite_on_a_stored_run_gives_transfer_the_strongest_curve_checks_and_a_summary(
    stored_perceptron_run,
):
    from neurosim.analysis.attack_report import attack_suite_section, attack_suite_summary
    from neurosim.analysis.attack_study import analyse_attack_suite

    budget = SuiteBudget(
        epsilons=(0.0, 0.1, 0.5), steps=5, restarts=2, queries=30, check_eps=0.1, check_steps=(2,)
    )
    stored = analyse_attack_suite(stored_perceptron_run, n_stimuli=40, budget=budget)
    accuracy = stored.accuracy
    assert stored.attrs["n_stimuli"] == 40 and stored.attrs["transfer_source__linear"] == "perceptron"
    strongest_curve = accuracy.sel(perturbation="strongest").values
    for attack in ("pgd_loss", "pgd_margin", "square", "transfer"):
        assert (strongest_curve <= accuracy.sel(perturbation=attack).values + 1e-9).all()
    assert np.isnan(accuracy.sel(perturbation="bpda").values).all()  # nothing to replace
    assert (strongest_curve[-1] <= 0.05).all()  # eps 0.5 breaks both linear models
    assert set(np.unique(stored.check_passed.values[~np.isnan(stored.check_passed.values)])) <= {0.0, 1.0}
    page = _Page()
    attack_suite_section(page, stored, stored)
    header, rows = page.tables[0]
    assert header[:3] == ["model", "EOT", "BPDA"] and [r[0] for r in rows] == ["perceptron", "linear"]
    assert page.figures == ["attack_suite_perceptron_linear.png"]
    (cell,) = attack_suite_summary(stored, stored, "perceptron", "linear")
    assert cell.column.startswith("robustness to the strongest attack") and "(n=2)" in cell.bio
