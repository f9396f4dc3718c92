"""Spread over seeds and paired tests between a bio model and its twin.

``mean_ci``: mean and two-sided confidence interval from Student's t distribution with n - 1
degrees of freedom, ``mean +- t_{(1+c)/2, n-1} * s / sqrt(n)`` (s the sample standard deviation).
With one seed the interval is undefined (NaN). ``format_mean_ci`` is how reports write it.

``paired_test``: the bio and twin runs share seeds (same data order and subset), so differences
are paired: Student's paired t-test on ``d_i = bio_i - twin_i`` with effect size Cohen's
``d_z = mean(d) / sd(d)``. With identical differences (sd = 0) the test is undefined (NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


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


def paired_test(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> PairedTest:
    """Paired t-test and Cohen's d_z of ``a - b`` over matched seeds."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(differences)
    mean = float(differences.mean()) if n else math.nan
    sd = float(differences.std(ddof=1)) if n > 1 else math.nan
    if n < 2 or sd == 0 or math.isnan(sd):
        return PairedTest(mean, math.nan, math.nan, n)
    p_value = float(stats.ttest_rel(a, b).pvalue)
    return PairedTest(mean, p_value, mean / sd, n)
