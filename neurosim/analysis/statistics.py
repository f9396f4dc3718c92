"""Spread over seeds, effect sizes with intervals, and paired tests between a bio model and its twin.

Accuracies: ``accuracy_interval`` (and ``accuracy_difference`` for two members on matched seeds)
is a two-level parametric bootstrap, so that the interval includes both sources of its
uncertainty: which seeds (initialisations, data orders, labelled subsets) were drawn, and which
test images were drawn. Each of ``B`` resamples

1. draws ``S`` seeds with replacement from the ``S`` seeds run, and
2. redraws each chosen seed's accuracy from the Jeffreys posterior of its test-set proportion,
   ``Beta(k + 1/2, n - k + 1/2)`` with ``k = round(accuracy * n)`` of ``n`` test images correct,

and averages them; the interval is the percentile interval of the ``B`` averages (``B = 10 000``,
a fixed generator seed, so a report is reproducible to the digit). Why this and not a t-interval:
a t-interval on 3-5 accuracies near 1 runs past 1 and ignores the test set; a Wald or logit
interval on the pooled count ignores the seeds. Every draw lies in [0, 1], so the interval does;
the Jeffreys prior keeps it non-degenerate when every seed scores 1.0 (or 0.0), where the bound at
the edge is set to exactly 1 (or 0), as Brown, Cai & DasGupta (2001, Stat. Sci. 16:101) do for the
Jeffreys interval at ``k = n``. With one seed only the test-set level remains. The seeds of a
comparison share one test set, and the draws of step 2 are independent per seed: the part of the
test-set error common to all seeds (images every model gets wrong) is counted as if it averaged
out. The per-seed McNemar test (``mcnemar_test``) compares two members on the very same images.

Other quantities: ``mean_ci`` is the Student-t interval ``mean +- t_{(1+c)/2, n-1} s / sqrt(n)``
(s the sample standard deviation; NaN with one seed); ``paired_difference`` is that interval on
``d_i = a_i - b_i`` over matched seeds; ``ratio_interval`` is the geometric mean of ``a_i / b_i``
with the t-interval of ``log(a_i / b_i)`` mapped back by ``exp`` (a ratio's natural scale, for
positive quantities such as energy). ``better_member`` reads an interval: a member is better only
when the interval lies wholly on its side of the null.

Tests: ``paired_test`` is Student's paired t-test on ``d_i`` with Cohen's ``d_z = mean(d) / sd(d)``
(NaN when sd = 0); its ``n - 1`` degrees of freedom are stated by ``dof_note``. ``holm_adjusted``
applies Holm's step-down correction (Holm 1979, Scand. J. Stat. 6:65) to a report's family of
p-values (statsmodels). ``mcnemar_test`` is McNemar's exact test of two members' predictions on
the same test images (one seed): the two-sided binomial test of the discordant counts (statsmodels).
See docs/statistics.md for which family each report corrects over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Resamples of the accuracy bootstrap (enough for the 2.5 % tails to rest on 250 draws each).
BOOTSTRAP_RESAMPLES = 10_000
#: Seed of the bootstrap's generator: the same accuracies always give the same interval.
BOOTSTRAP_SEED = 20_011
#: Seeds below which a comparison is not claim-grade (4 degrees of freedom for a paired test).
CLAIM_SEEDS = 5


@dataclass(frozen=True)
class Summary:
    """Mean and confidence interval of a sample."""

    mean: float
    low: float
    high: float
    n: int

    def text(self) -> str:
        """``mean [low, high] (n=N)``, or ``mean (n=1)`` without an interval."""
        interval = "" if math.isnan(self.low) else f" [{self.low:.4f}, {self.high:.4f}]"
        return f"{self.mean:.4f}{interval} (n={self.n})"


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of two matched samples (``a - b``)."""

    mean_difference: float
    p_value: float
    effect_size: float
    n: int


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two classifiers on the same ``n`` test images.

    Attributes:
        a_only: images ``a`` classified correctly and ``b`` did not.
        b_only: images ``b`` classified correctly and ``a`` did not.
        p_value: two-sided exact binomial p of ``a_only`` among ``a_only + b_only`` at 1/2.
        n: test images.
    """

    a_only: int
    b_only: int
    p_value: float
    n: int


def t_half_width(values: np.ndarray, axis: int = 0, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t confidence interval of the mean along ``axis``:
    ``t((1 + confidence) / 2, n - 1) * s / sqrt(n)``, with ``s`` the sample standard deviation
    (ddof 1) and ``n = values.shape[axis] >= 2``."""
    n = values.shape[axis]
    return stats.t.ppf((1 + confidence) / 2, n - 1) * values.std(axis=axis, ddof=1) / np.sqrt(n)


def mean_ci(values: np.ndarray | list[float], confidence: float = 0.95) -> Summary:
    """Mean and t-based confidence interval of ``values`` (NaNs ignored)."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = len(data)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, 1)
    half_width = float(t_half_width(data, confidence=confidence))
    return Summary(mean, mean - half_width, mean + half_width, n)


def format_mean_ci(values: np.ndarray) -> str:
    """``mean [low, high]`` (95 % t-interval over seeds), or ``mean (n=1)`` for one value."""
    summary = mean_ci(values)
    if math.isnan(summary.low):
        return f"{summary.mean:.4f} (n={summary.n})"
    return f"{summary.mean:.4f} [{summary.low:.4f}, {summary.high:.4f}]"


def _correct_counts(accuracies: np.ndarray, n_test: int) -> np.ndarray:
    """``round(accuracy * n_test)`` per seed, after checking both are what they claim to be."""
    if isinstance(n_test, bool) or int(n_test) != n_test or n_test < 1:
        raise ValueError(f"n_test must be a positive whole number of test images, got {n_test!r}")
    if np.any((accuracies < 0) | (accuracies > 1)):
        raise ValueError(f"accuracies must lie in [0, 1], got {accuracies.tolist()}")
    return np.rint(accuracies * n_test)


def _bootstrap_means(counts: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """``[B, S]`` redrawn accuracies: seeds resampled (the same rows for every column of
    ``counts`` ``[S, M]``, so matched members stay matched), each drawn from its Jeffreys
    posterior; returns the per-resample seed means ``[B, M]``."""
    rows = rng.integers(0, len(counts), size=(BOOTSTRAP_RESAMPLES, len(counts)))
    chosen = counts[rows]  # [B, S, M]
    return rng.beta(chosen + 0.5, n_test - chosen + 0.5).mean(axis=1)


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def accuracy_interval(accuracies: np.ndarray | list[float], n_test: int, confidence: float = 0.95) -> Summary:
    """Mean accuracy over seeds and its two-level bootstrap interval (module docstring), in [0, 1].

    Args:
        accuracies: ``[S]`` each seed's test accuracy (fraction correct; NaNs, e.g. diverged
            fits, are left out).
        n_test: test images each accuracy was measured on.
        confidence: coverage of the interval.

    Returns:
        ``Summary(mean over seeds, low, high, S)``; all NaN (n = 0) without a finite accuracy.
    """
    data = np.asarray(accuracies, dtype=float).ravel()
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    counts = _correct_counts(data, n_test)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    low, high = _percentiles(_bootstrap_means(counts[:, None], n_test, rng)[:, 0], confidence)
    # Brown, Cai & DasGupta's convention at the edges: every image right (wrong) in every seed.
    high = 1.0 if np.all(counts == n_test) else high
    low = 0.0 if np.all(counts == 0) else low
    return Summary(float(data.mean()), low, high, len(data))


def format_accuracy(accuracies: np.ndarray | list[float], n_test: int) -> str:
    """``mean [low, high]`` of :func:`accuracy_interval` (95 %), or ``n/a`` without an accuracy."""
    summary = accuracy_interval(accuracies, n_test)
    if summary.n == 0:
        return "n/a"
    return f"{summary.mean:.4f} [{summary.low:.4f}, {summary.high:.4f}]"


def accuracy_difference(
    a: np.ndarray | list[float], b: np.ndarray | list[float], n_test: int, confidence: float = 0.95
) -> Summary:
    """Mean of ``a_i - b_i`` over matched seeds (accuracies of two members on the same ``n_test``
    test images) with the two-level bootstrap interval of :func:`accuracy_interval`: the seeds are
    resampled jointly (pairs stay pairs), each member's accuracy drawn from its own Jeffreys
    posterior. Seeds where either is NaN are left out. Within [-1, 1]."""
    pairs = np.column_stack([np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()])
    pairs = pairs[~np.isnan(pairs).any(axis=1)]
    if len(pairs) == 0:
        return Summary(math.nan, math.nan, math.nan, 0)
    counts = _correct_counts(pairs, n_test)
    means = _bootstrap_means(counts, n_test, np.random.default_rng(BOOTSTRAP_SEED))
    low, high = _percentiles(means[:, 0] - means[:, 1], confidence)
    return Summary(float((pairs[:, 0] - pairs[:, 1]).mean()), low, high, len(pairs))


def paired_difference(
    a: np.ndarray | list[float], b: np.ndarray | list[float], confidence: float = 0.95
) -> Summary:
    """Mean of ``a_i - b_i`` over matched seeds with its t-interval (:func:`mean_ci`), for any
    quantity; seeds where either is NaN are left out."""
    return mean_ci(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), confidence)


def ratio_interval(
    a: np.ndarray | list[float], b: np.ndarray | list[float], confidence: float = 0.95
) -> Summary:
    """Geometric mean of ``a_i / b_i`` over matched seeds, ``exp(mean(log(a_i / b_i)))``, with the
    t-interval of the log ratios mapped back (``exp``), for positive quantities (energy, time).
    Seeds where either is NaN are left out; a non-positive value raises ``ValueError``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    finite = ~(np.isnan(a) | np.isnan(b))
    if np.any(a[finite] <= 0) or np.any(b[finite] <= 0):
        raise ValueError(
            "ratio_interval needs positive values (the log ratio of a non-positive is undefined)"
        )
    logs = mean_ci(np.log(a[finite]) - np.log(b[finite]), confidence)
    return Summary(math.exp(logs.mean), math.exp(logs.low), math.exp(logs.high), logs.n)


#: Two estimates whose ratio lies within this fraction of 1 are equal for practical purposes (an
#: energy estimate's prices are not known to better than a few per cent): the energy summary cells
#: and the sensitivity table name no winner inside ``1 +- RATIO_TIE``.
RATIO_TIE = 0.005


def better_member(
    summary: Summary, higher_is_better: bool, null: float = 0.0, margin: float = 0.0
) -> str | None:
    """Which member an interval of ``bio - twin`` (or ``bio / twin`` with ``null = 1``) favours:
    ``"bio"`` when it lies wholly on the better side of ``null +- margin``, ``"twin"`` when wholly
    on the other, ``None`` when it reaches into that band or is undefined (NaN). ``margin``: the
    smallest effect worth naming (0: any that the interval excludes)."""
    if math.isnan(summary.low) or math.isnan(summary.high):
        return None
    if summary.low > null + margin:
        return "bio" if higher_is_better else "twin"
    if summary.high < null - margin:
        return "twin" if higher_is_better else "bio"
    return None


def within_tie(ratio: Summary, tie: float = RATIO_TIE) -> bool:
    """Whether the whole interval of a ratio lies within ``1 +- tie`` (the two are equal)."""
    return 1.0 - tie <= ratio.low and ratio.high <= 1.0 + tie


def paired_test(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> PairedTest:
    """Paired t-test and Cohen's d_z of ``a - b`` over matched seeds (``n - 1`` degrees of freedom)."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(differences)
    mean = float(differences.mean()) if n else math.nan
    sd = float(differences.std(ddof=1)) if n > 1 else math.nan
    if n < 2 or sd == 0 or math.isnan(sd):
        return PairedTest(mean, math.nan, math.nan, n)
    p_value = float(stats.ttest_rel(a, b).pvalue)
    return PairedTest(mean, p_value, mean / sd, n)


def dof_note(n: int) -> str:
    """The degrees of freedom of a paired test over ``n`` seeds, and whether they carry a claim:
    ``"n = 3 seeds, 2 degrees of freedom: below the 5 seeds a headline claim needs"``."""
    seeds = f"n = {n} seed{'s' * (n != 1)}, {max(n - 1, 0)} degree{'s' * (n != 2)} of freedom"
    if n < CLAIM_SEEDS:
        return f"{seeds}: below the {CLAIM_SEEDS} seeds a headline claim needs"
    return seeds


def holm_adjusted(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm-adjusted p-values of one family of tests (statsmodels ``multipletests``, ``holm``):
    the ``i``-th smallest of ``m`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``. NaNs (tests
    that could not be run) stay NaN and do not count in the family's size ``m``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float).ravel()
    adjusted = np.full_like(p, math.nan)
    finite = ~np.isnan(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method="holm")[1]
    return adjusted


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """McNemar's exact test (statsmodels) of two members' per-image correctness ``[n]`` (bool) on
    the same test images: p is the two-sided binomial probability of discordant counts at least as
    unbalanced as ``a_only : b_only`` under 1/2 (1 when there is no discordant image)."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(correct_a, dtype=bool).ravel(), np.asarray(correct_b, dtype=bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"McNemar needs the same test images for both, got {a.shape} and {b.shape}")
    table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
    p_value = float(mcnemar(table, exact=True).pvalue)
    return McNemar(int(table[0, 1]), int(table[1, 0]), p_value, len(a))
