"""The attack suite's report section and summary cells (the stored result of
:mod:`neurosim.analysis.attack_study`).

Section: what was run (budget, EOT, BPDA replacements), one figure of curves per pair (every
attack and the strongest, :func:`~neurosim.analysis.strength_curves.strength_curves_section`),
and a table of the sanity checks per member (:mod:`neurosim.analysis.masking_checks`): each
check's passes over seeds and its worst number, the area under the strongest attack's curve and
the wall time. Summary cell per pair: the area under the strongest attack's curve (accuracy
averaged over eps in [0, max eps]), bio vs twin with the paired difference's CI over seeds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurosim.analysis.masking_checks import TOLERANCE, ZERO_ACCURACY
from neurosim.analysis.strength_curves import area_cell, area_under_curve, strength_curves_section
from neurosim.analysis.study import Page, SummaryCell, Table, pair_groups

STRONGEST_COLUMN = "robustness to the strongest attack (AUC over eps)"
#: For the worst value over seeds: checks where a larger number is worse.
CHECK_TEXT = {
    "falls_to_zero": f"best white-box accuracy at the largest eps <= {ZERO_ACCURACY}",
    "white_beats_black": f"white-box accuracy - Square accuracy <= {TOLERANCE} at every eps",
    "monotone_in_eps": f"largest rise of any curve with eps <= {TOLERANCE}",
    "monotone_in_steps": f"largest rise with more steps <= {TOLERANCE}",
    "monotone_in_restarts": f"largest rise with more restarts <= {TOLERANCE}",
}


def _check_text(passed: np.ndarray, value: np.ndarray) -> str:
    """``pass 2/2 (0.01)``: seeds passed of those applicable, and the worst value over seeds."""
    applicable = ~np.isnan(passed)
    if not applicable.any():
        return "n/a"
    worst = np.nanmax(value) if not np.isnan(value).all() else float("nan")
    verdict = "pass" if passed[applicable].all() else "FAIL"
    return f"{verdict} {int(passed[applicable].sum())}/{int(applicable.sum())} ({worst:.3f})"


def checks_table(stored: xr.Dataset) -> Table:
    """One row per member: stochastic, BPDA, each check, masking suspected, strongest AUC, time."""
    checks = [str(c) for c in stored.check.values]
    header = ["model", "EOT", "BPDA", *checks, "masking suspected", "strongest AUC", "time (s)"]
    strength = stored.strength.sel(perturbation="strongest").values
    rows = []
    members = dict.fromkeys(member for group in pair_groups(stored) for member in group)  # once each
    for member in members:
        passed = stored.check_passed.sel(model=member).values  # [check, seed]
        value = stored.check_value.sel(model=member).values
        area = area_under_curve(strength, stored.accuracy.sel(perturbation="strongest", model=member).values)
        suspected = bool((passed == 0).any())
        rows.append([
            member,
            "yes" if stored.stochastic.sel(model=member).item() else "no",
            stored.attrs.get(f"bpda__{member}", "") or "-",
            *(_check_text(passed[c], value[c]) for c in range(len(checks))),
            "YES" if suspected else "no",
            f"{np.nanmean(area):.3f}",
            f"{np.nansum(stored.seconds.sel(model=member).values):.0f}",
        ])  # fmt: skip
    return Table(header, rows)


def attack_suite_section(page: Page, stored: xr.Dataset, results: xr.Dataset) -> None:
    """The report's attack-suite section (``results``, the run's results, are not needed)."""
    attrs = stored.attrs
    stochastic = [str(m) for m in stored.model.values if stored.stochastic.sel(model=m).item()]
    strength_curves_section(
        page,
        stored,
        "Attack suite",
        "The same L-infinity attacks for every model (eps "
        f"{attrs['budget_epsilons']}): PGD on the model's own loss and on the CW margin "
        f"({attrs['budget_steps']} steps, {attrs['budget_restarts']} random starts), PGD on the margin "
        "through a differentiable view of thresholds, samplers and spikes (BPDA), the Square Attack "
        f"({attrs['budget_queries']} queries per image) and transfer from the pair's partner; "
        "'strongest' counts an image as broken if any attack broke it. Stochastic models "
        f"({', '.join(stochastic) or 'none'}) are attacked and scored by expectation over "
        f"{attrs['budget_eot_draws']} noise draws: accuracy is that of the prediction from the mean "
        "scores over fresh draws. NaN (no curve) where an attack does not apply."
        + "".join(
            f" {k.removeprefix('skipped__')}: {v}." for k, v in attrs.items() if k.startswith("skipped__")
        ),
    )
    page.paragraph(
        "Sanity checks (Carlini et al. 2019): " + "; ".join(f"{k}: {v}" for k, v in CHECK_TEXT.items())
        + f". Steps and restarts at eps {attrs['budget_check_eps']}. Cells: seeds passed / applicable "
        "(worst value over seeds). A failed check flags possible gradient masking: that model's "
        "white-box curves overstate its robustness."
    )  # fmt: skip
    page.table(*checks_table(stored))


def attack_suite_summary(stored: xr.Dataset, results: xr.Dataset, bio: str, twin: str) -> list[SummaryCell]:
    """The pair's cell of the summary table: the area under the strongest attack's curve."""
    return area_cell(stored, "strongest", bio, twin, STRONGEST_COLUMN, "robust to the strongest attack")
