"""The report's paired comparisons of final test accuracy: every bio model against each of its
twins, as one family of tests.

Per comparison (``a`` the bio member, ``b`` a twin, matched seeds: same data order and subset):

* the effect size, the mean of ``a_i - b_i`` with its 95 % interval from the two-level bootstrap
  over seeds and test images (:func:`~neurosim.analysis.statistics.accuracy_difference`);
* Student's paired t-test over seeds (``n - 1`` degrees of freedom) and Cohen's ``d_z``; its p
  raw and Holm-adjusted over the report's family, the paired tests of every bio model against
  each twin in the report (Holm 1979: the ``i``-th smallest of ``m`` p-values times
  ``m - i + 1``, made monotone), so that "p < 0.05" keeps its meaning however many pairs a
  comparison holds;
* McNemar's exact test per seed on the test images both members classified (discordant counts
  ``a only / b only``), Holm-adjusted over every McNemar test of the report (each comparison's
  seeds), when ``results.nc`` holds per-image predictions (:mod:`neurosim.results.predictions`).

A member with a diverged seed is not tested (:mod:`neurosim.report.validity`). docs/statistics.md
says why these intervals and this family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from neurosim.analysis.statistics import (
    McNemar,
    PairedTest,
    Summary,
    accuracy_difference,
    holm_adjusted,
    mcnemar_test,
    paired_test,
)
from neurosim.report.validity import diverged_seeds
from neurosim.results.predictions import correct_by_seed, n_test_images

#: Level at which a test is said to reject (after Holm).
ALPHA = 0.05

PAIRED_HEADER = [
    "bio - twin (final test accuracy)",
    "difference, points [95 % CI]",
    "p, Holm-adjusted",
    "Cohen's d_z",
    "seeds (degrees of freedom)",
    "raw p (paired t)",
    "McNemar per seed (test images)",
]


@dataclass(frozen=True)
class PairedComparison:
    """One bio member against one twin on final test accuracy.

    Attributes:
        pair: the pair's name.
        bio, twin: the members.
        difference: ``bio - twin`` (fraction correct) with its bootstrap CI; ``None`` if not tested.
        test: the paired t-test over seeds; ``None`` if not tested.
        holm_p: the test's p after Holm over the report's family (NaN when it has no p).
        reason: why it was not tested (``""`` when it was).
        mcnemar: McNemar's test per seed with predictions of both members (``()`` when none).
        mcnemar_holm: their p after Holm over every McNemar test of the report.
    """

    pair: str
    bio: str
    twin: str
    difference: Summary | None
    test: PairedTest | None
    holm_p: float
    reason: str
    mcnemar: tuple[McNemar, ...] = ()
    mcnemar_holm: tuple[float, ...] = ()


def _compared(results: xr.Dataset, pair: str, bio: str, twin: str) -> PairedComparison:
    """The difference, the paired test and the McNemar tests of ``bio`` and ``twin`` (Holm's
    adjustments filled in later)."""
    correct_bio, correct_twin = correct_by_seed(results, bio), correct_by_seed(results, twin)
    mcnemar = tuple(mcnemar_test(correct_bio[s], correct_twin[s]) for s in correct_bio if s in correct_twin)
    failed = [m for m in (bio, twin) if diverged_seeds(results, m)]
    if failed:
        reason = f"{' and '.join(failed)} diverged"
        return PairedComparison(pair, bio, twin, None, None, math.nan, reason, mcnemar)
    a = results.final_test_accuracy.sel(model=bio).values
    b = results.final_test_accuracy.sel(model=twin).values
    difference = accuracy_difference(a, b, n_test_images(results))
    return PairedComparison(pair, bio, twin, difference, paired_test(a, b), math.nan, "", mcnemar)


def paired_comparisons(results: xr.Dataset, pair_members: dict[str, list[str]]) -> list[PairedComparison]:
    """Every bio member against each of its twins (``pair_members``: ``{pair: [bio, *twins]}``),
    in report order, with Holm's p over those that have a p (the family of t-tests), and over
    every McNemar test of the report (the family of per-seed tests).

    Two calls of Holm for the whole report, not one per comparison: statsmodels' Holm runs a full
    garbage collection per call, a tenth of a second in a report's process."""
    compared = [
        _compared(results, pair, members[0], twin)
        for pair, members in pair_members.items()
        for twin in members[1:]
    ]
    raw = [c.test.p_value if c.test is not None else math.nan for c in compared]
    adjusted = holm_adjusted(raw) if compared else np.array([])
    per_seed = [t.p_value for c in compared for t in c.mcnemar]
    per_seed_adjusted = iter(holm_adjusted(per_seed).tolist() if per_seed else [])
    return [
        replace(c, holm_p=float(p), mcnemar_holm=tuple(next(per_seed_adjusted) for _ in c.mcnemar))
        for c, p in zip(compared, adjusted, strict=True)
    ]


def mcnemar_family_size(comparisons: list[PairedComparison]) -> int:
    """McNemar tests in their Holm family: every seed of every comparison with predictions."""
    return sum(len(c.mcnemar) for c in comparisons)


def family_size(comparisons: list[PairedComparison]) -> int:
    """Tests in Holm's family: the comparisons with a p-value."""
    return sum(1 for c in comparisons if c.test is not None and not math.isnan(c.test.p_value))


def points(summary: Summary) -> str:
    """A difference of accuracies in percentage points: ``+1.2 [-0.3, +2.6]``."""
    if math.isnan(summary.low):
        return f"{100 * summary.mean:+.1f}"
    return f"{100 * summary.mean:+.1f} [{100 * summary.low:+.1f}, {100 * summary.high:+.1f}]"


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def paired_row(results: xr.Dataset, comparison: PairedComparison, mcnemar_family: int) -> list[str]:
    """The comparison's row of :data:`PAIRED_HEADER` (``mcnemar_family``: the McNemar tests of the
    report, :func:`mcnemar_family_size`)."""
    name = f"{comparison.bio} - {comparison.twin}"
    if comparison.test is None or comparison.difference is None:
        return [name, f"not tested: {comparison.reason}", "n/a", "n/a", "0", "n/a", "n/a"]
    test = comparison.test
    return [
        name,
        points(comparison.difference),
        _p(comparison.holm_p),
        "n/a" if math.isnan(test.effect_size) else f"{test.effect_size:.2f}",
        f"{test.n} ({max(test.n - 1, 0)})",
        _p(test.p_value),
        mcnemar_cell(results, comparison, mcnemar_family),
    ]


def mcnemar_cell(results: xr.Dataset, comparison: PairedComparison, family: int) -> str:
    """McNemar's test per seed of a comparison: how many seeds reject at :data:`ALPHA` after Holm
    over the report's ``family`` McNemar tests and in whose favour (the member right on more of
    the discordant images), the discordant counts and raw p per seed; or why there is none."""
    if "test_prediction" not in results:
        return "not stored (fit before per-image predictions were recorded; rerun to add them)"
    tests = comparison.mcnemar
    if not tests:
        return "n/a (no seed with predictions of both)"
    rejects = [p < ALPHA for p in comparison.mcnemar_holm]
    bio_better = sum(1 for t, r in zip(tests, rejects, strict=True) if r and t.a_only > t.b_only)
    return (
        f"{sum(rejects)} of {len(tests)} seeds reject at {ALPHA} (Holm over the report's {family} "
        f"McNemar tests; bio better in {bio_better}, twin in {sum(rejects) - bio_better})\n"
        f"bio only / twin only correct: {', '.join(f'{t.a_only}/{t.b_only}' for t in tests)}\n"
        f"raw p: {', '.join(_p(t.p_value) for t in tests)}"
    )


def family_text(comparisons: list[PairedComparison]) -> str:
    """``Holm-adjusted over the 4 bio-vs-twin tests of final accuracy in this report`` (or why
    there is none)."""
    size = family_size(comparisons)
    if size == 0:
        return "not adjusted: no paired t-test in this report (it needs 2 seeds or more)"
    return (
        f"Holm-adjusted over the {size} bio-vs-twin test{'s' * (size != 1)} of final accuracy in this report"
    )


def family_note(comparisons: list[PairedComparison]) -> str:
    """The paragraph that says what the paired tables hold and over which family p is adjusted."""
    return (
        "Paired tables: the difference bio - twin of final test accuracy in percentage points with "
        "its 95 % interval (bootstrap over seeds and test images); the paired t-test's p, "
        f"{family_text(comparisons)}, and raw; Cohen's d_z; seeds and the test's degrees of freedom "
        "(seeds - 1); McNemar's exact test per seed on the test images, Holm-adjusted over the "
        f"report's {mcnemar_family_size(comparisons)} McNemar tests (docs/statistics.md)."
    )
