"""The energy analysis's cells of the report's summary table, and the operating point its section
states.

Reference profile: Horowitz's 45 nm fp32 prices (``horowitz45_fp32_compute`` compute-only and
``horowitz45_fp32_memory`` memory-aware, the same arithmetic prices). It is the one family that
prices every member of every pair: the twins' real-valued MACs (no neuromorphic profile prices
them), spiking models' accumulates and neuron updates (a conductance neuron from its counted
operations), and memory; its prices are the literature's default (docs/references/energy.md
section 1.1), so the ratios compare with published estimates. The cells are bio / twin as a
geometric-mean ratio over seeds with its 95 % interval
(:func:`~neurosim.analysis.statistics.ratio_interval`); the member with less energy is named only
when the interval lies wholly outside ``1 +- RATIO_TIE`` (0.5 %), and an interval wholly inside
that band is stated as equal (e.g. a perceptron and softmax regression: the same linear map).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from neurosim.analysis.energy_section import estimates, training_estimates
from neurosim.analysis.statistics import RATIO_TIE, better_member, mean_ci, ratio_interval, within_tie
from neurosim.analysis.study import SummaryCell

COMPUTE_PROFILE = "horowitz45_fp32_compute"
MEMORY_PROFILE = "horowitz45_fp32_memory"
#: ``(what, estimator, profile, which of (compute-only, memory-aware), unit)``; the column is
#: ``"energy <what>, bio / twin"`` and the plain words ``"energy-efficient <what>"``.
CELLS = (
    ("per inference (compute-only, horowitz45_fp32)", estimates, COMPUTE_PROFILE, 0, "µJ"),
    ("per inference (memory-aware, horowitz45_fp32)", estimates, MEMORY_PROFILE, 1, "µJ"),
    ("to train (compute-only, horowitz45_fp32)", training_estimates, COMPUTE_PROFILE, 0, "mJ"),
    ("to train (memory-aware, horowitz45_fp32)", training_estimates, MEMORY_PROFILE, 1, "mJ"),
)


def _value(values: np.ndarray, unit: str) -> str:
    if np.isnan(values).any():
        return "unpriced"
    summary = mean_ci(values)
    interval = "" if np.isnan(summary.low) else f" [{summary.low:.3g}, {summary.high:.3g}]"
    return f"{summary.mean:.3g}{interval} {unit}"


def _cell(measure: str, bio_values: np.ndarray, twin_values: np.ndarray, unit: str) -> SummaryCell:
    column, what = f"energy {measure}, bio / twin", f"energy-efficient {measure}"
    texts = _value(bio_values, unit), _value(twin_values, unit)
    usable = not (np.isnan(bio_values).any() or np.isnan(twin_values).any())
    if not usable or np.any(bio_values <= 0) or np.any(twin_values <= 0):
        return SummaryCell(column, *texts, "n/a", None, what)
    ratio = ratio_interval(bio_values, twin_values)
    interval = "" if np.isnan(ratio.low) else f" [{ratio.low:.3g}, {ratio.high:.3g}]"
    if not np.isnan(ratio.low) and within_tie(ratio):  # equal: no direction to state
        equal = f"x{ratio.mean:.3g}{interval}: equal within {RATIO_TIE:.1%}"
        return SummaryCell(column, *texts, equal, None, "")
    better = better_member(ratio, higher_is_better=False, null=1.0, margin=RATIO_TIE)
    return SummaryCell(column, *texts, f"x{ratio.mean:.3g}{interval}", better, what)


def energy_summary(energy: xr.Dataset, results: xr.Dataset, bio: str, twin: str) -> list[SummaryCell]:
    """The pair's four energy cells (per inference and to train, compute-only and memory-aware,
    under the reference profile); none when either member or a reference profile is missing."""
    members = {str(m) for m in energy.model.values}
    profiles = {str(p) for p in energy.profile.values}
    if not {bio, twin} <= members or not {COMPUTE_PROFILE, MEMORY_PROFILE} <= profiles:
        return []
    cells = []
    for measure, estimator, profile, which, unit in CELLS:
        if estimator is training_estimates and "training_energy" not in energy:
            continue
        read: Callable = estimator
        bio_values, twin_values = (read(energy, member, profile)[which] for member in (bio, twin))
        cells.append(_cell(measure, bio_values, twin_values, unit))
    return cells
