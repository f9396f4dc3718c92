"""Sanity checks of an attack evaluation, whose failure flags possible gradient masking.

N. Carlini, A. Athalye, N. Papernot, W. Brendel, J. Rauber, D. Tsipras, I. Goodfellow, A. Madry &
A. Kurakin, "On evaluating adversarial robustness", arXiv:1902.06705 (2019), sec. 5; A. Athalye,
N. Carlini & D. Wagner, ICML 2018, sec. 3.1. For one model (curves of accuracy, fraction correct,
against the L-infinity budget eps; the attack suite of :mod:`neurosim.analysis.attack_suite`):

* ``falls_to_zero``: the best white-box attack (the per-eps minimum over ``pgd_loss``,
  ``pgd_margin``, ``bpda``) leaves accuracy ``<= ZERO_ACCURACY`` at the largest eps (0.5 lets it
  turn any image into any other of its ball: an unbounded attack must succeed). Fails when no
  white-box attack applies.
* ``white_beats_black``: at every eps the best white-box accuracy is at most the Square Attack's
  plus ``TOLERANCE`` (a gradient attack that does worse than random search is not following a
  useful gradient). Not applicable (``None``) without a Square Attack curve.
* ``monotone_in_eps``: no attack's curve (and not the strongest) rises with eps by more than
  ``TOLERANCE`` (a larger ball contains the smaller one).
* ``monotone_in_steps`` / ``monotone_in_restarts``: accuracy at the check eps does not rise by
  more than ``TOLERANCE`` with more steps or more restarts. (Restarts are cumulative, so on a
  deterministic model this holds by construction unless the judge is inconsistent; on a stochastic
  model it checks that the EOT verdict is stable.)

``TOLERANCE`` (0.03) is about two binomial standard errors of an accuracy near 0.5 on 1000 images
(``2 sqrt(0.25 / 1000) = 0.032``) and the spread of the noise draws of an EOT verdict. Each check
gives pass (``True``), fail (``False``) or not applicable (``None``), with the number it tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

#: Accuracy the best white-box attack must reach at the largest eps.
ZERO_ACCURACY = 0.05
#: Allowed excess of accuracy in the comparison and monotonicity checks (module docstring).
TOLERANCE = 0.03
CHECKS = (
    "falls_to_zero",
    "white_beats_black",
    "monotone_in_eps",
    "monotone_in_steps",
    "monotone_in_restarts",
)
WHITE_BOX = ("pgd_loss", "pgd_margin", "bpda")


class Check(NamedTuple):
    """One check's verdict: ``passed`` (``None``: not applicable) and the number it tested."""

    name: str
    passed: bool | None
    value: float


def best_white_box(curves: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per-eps minimum ``[E]`` over the white-box curves that apply (``None`` if none does)."""
    applied = [curves[n] for n in WHITE_BOX if n in curves and not np.isnan(curves[n]).all()]
    return np.min(applied, axis=0) if applied else None


def largest_rise(curve: np.ndarray | list[float]) -> float:
    """The largest increase between consecutive points of ``curve`` (NaN points left out)."""
    values = np.asarray(curve, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.max(np.diff(values), initial=0.0)) if len(values) > 1 else float("nan")


def _monotone(name: str, curves: Sequence[np.ndarray | list[float]]) -> Check:
    rises = [largest_rise(c) for c in curves]
    rises = [r for r in rises if not np.isnan(r)]
    if not rises:
        return Check(name, None, float("nan"))
    return Check(name, max(rises) <= TOLERANCE, max(rises))


def sanity_checks(
    curves: dict[str, np.ndarray], steps_curve: list[float], restarts_curve: list[float]
) -> list[Check]:
    """The checks of the module docstring, in :data:`CHECKS` order.

    Args:
        curves: attack -> accuracy at every eps ``[E]`` (eps increasing; all NaN where the
            attack does not apply); ``square`` for the black-box attack.
        steps_curve: accuracy at the check eps for increasing numbers of steps.
        restarts_curve: the same for 1, 2, ... restarts.
    """
    white = best_white_box(curves)
    if white is None:
        zero = Check("falls_to_zero", False, float("nan"))
        black = Check("white_beats_black", None, float("nan"))
    else:
        zero = Check("falls_to_zero", bool(white[-1] <= ZERO_ACCURACY), float(white[-1]))
        square = curves.get("square")
        if square is None or np.isnan(square).all():
            black = Check("white_beats_black", None, float("nan"))
        else:
            excess = float(np.nanmax(white - square))
            black = Check("white_beats_black", excess <= TOLERANCE, excess)
    applied = [c for c in curves.values() if not np.isnan(c).all()]
    return [
        zero,
        black,
        _monotone("monotone_in_eps", applied),
        _monotone("monotone_in_steps", [steps_curve]),
        _monotone("monotone_in_restarts", [restarts_curve]),
    ]


def masking_suspected(checks: list[Check]) -> bool:
    """Whether any check failed (a sign of gradient masking, or of too weak an attack)."""
    return any(check.passed is False for check in checks)
