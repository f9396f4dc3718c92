"""The sanity checks on hand-made curves, and the area under a curve."""

import numpy as np
import pytest

from neurosim.analysis.masking_checks import masking_suspected, sanity_checks
from neurosim.analysis.strength_curves import area_under_curve

NAN = np.full(4, np.nan)


def _verdicts(curves, steps=(0.5, 0.4, 0.4), restarts=(0.4, 0.4)):
    return {c.name: (c.passed, c.value) for c in sanity_checks(curves, list(steps), list(restarts))}


def test_a_sound_evaluation_passes_every_check():
    sound = {"pgd_margin": np.array([0.9, 0.5, 0.1, 0.0]), "square": np.array([0.9, 0.6, 0.2, 0.01])}
    checks = _verdicts({**sound, "bpda": NAN})
    assert all(passed for passed, _ in checks.values())
    assert checks["falls_to_zero"][1] == 0.0
    assert checks["white_beats_black"][1] == pytest.approx(0.0)  # equal at eps 0


def test_each_check_fails_on_its_own_symptom():
    masked = {"pgd_loss": np.array([0.9, 0.85, 0.8, 0.6]), "square": np.array([0.9, 0.5, 0.1, 0.0])}
    checks = _verdicts(masked, steps=(0.4, 0.45, 0.5), restarts=(0.4, 0.44))
    assert checks["falls_to_zero"] == (False, pytest.approx(0.6))
    assert checks["white_beats_black"] == (False, pytest.approx(0.7))  # 0.8 - 0.1 at the third eps
    assert checks["monotone_in_eps"][0] is True
    assert checks["monotone_in_steps"] == (False, pytest.approx(0.05))
    assert checks["monotone_in_restarts"] == (False, pytest.approx(0.04))
    rising = _verdicts({"pgd_margin": np.array([0.9, 0.2, 0.3, 0.0])})
    assert rising["monotone_in_eps"] == (False, pytest.approx(0.1))
    assert rising["white_beats_black"][0] is None  # no Square curve: not applicable
    assert masking_suspected(sanity_checks({"pgd_margin": np.array([0.9, 0.2, 0.3, 0.0])}, [], []))


def test_no_white_box_attack_fails_the_zero_check():
    checks = _verdicts({"pgd_loss": NAN, "square": np.array([0.9, 0.5, 0.1, 0.0])}, steps=(), restarts=())
    assert checks["falls_to_zero"][0] is False
    assert checks["white_beats_black"][0] is None and checks["monotone_in_steps"][0] is None


def test_area_under_curve_is_the_trapezoid_over_the_range():
    assert area_under_curve(np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.5, 0.0])) == pytest.approx(0.5)
    # (0.1 * 1 + 0.4 * (1 + 0) / 2) / 0.5
    per_seed = area_under_curve(np.array([0.0, 0.1, 0.5]), np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]))
    assert per_seed.tolist() == pytest.approx([0.6, 0.1])
