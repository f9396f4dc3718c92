"""The statistics a claim rests on: bounded accuracy intervals, effect-size intervals, Holm's
correction and McNemar's test, each against a hand computation or a known distribution."""

import math
import time

import numpy as np
import pytest
from scipy import stats

from neurosim.analysis.statistics import (
    Summary,
    accuracy_difference,
    accuracy_interval,
    better_member,
    dof_note,
    format_accuracy,
    holm_adjusted,
    mcnemar_test,
    mean_ci,
    paired_difference,
    ratio_interval,
)


def test_all_seeds_perfect_give_an_interval_closed_at_one():
    summary = accuracy_interval([1.0, 1.0, 1.0, 1.0, 1.0], n_test=10_000)
    assert summary.mean == 1.0 and summary.high == 1.0
    assert 0.999 < summary.low < 1.0  # the test set leaves doubt: 10 000 images, not infinitely many
    assert format_accuracy([1.0, 1.0, 1.0], 100).endswith(", 1.0000]")


def test_all_seeds_wrong_give_an_interval_closed_at_zero():
    summary = accuracy_interval([0.0, 0.0], n_test=500)
    assert summary.low == 0.0 and 0.0 < summary.high < 0.01


def test_one_seed_is_the_jeffreys_interval_of_its_test_set():
    # One seed: only the test-set level, i.e. the percentiles of Beta(97 + 1/2, 3 + 1/2).
    summary = accuracy_interval([0.97], n_test=100)
    low, high = stats.beta.ppf([0.025, 0.975], 97.5, 3.5)
    assert summary.n == 1 and summary.mean == 0.97
    assert summary.low == pytest.approx(low, abs=0.003) and summary.high == pytest.approx(high, abs=0.003)


def test_accuracy_interval_stays_in_the_unit_interval_where_a_t_interval_does_not():
    accuracies = [0.9709, 0.9243, 0.9999]
    assert mean_ci(accuracies).high > 1  # the report's old interval
    summary = accuracy_interval(accuracies, n_test=1797)
    assert 0 <= summary.low < summary.mean < summary.high <= 1


def test_accuracy_interval_is_reproducible_fast_and_ignores_nan():
    accuracies = [0.91, 0.93, np.nan, 0.92, 0.90, 0.94]
    start = time.perf_counter()
    first = accuracy_interval(accuracies, n_test=10_000)
    assert time.perf_counter() - start < 0.25  # vectorised: a few ms; the margin is for a busy machine
    assert first == accuracy_interval(accuracies, n_test=10_000) and first.n == 5
    assert accuracy_interval([np.nan], 10).n == 0


@pytest.mark.parametrize(("accuracies", "n_test"), [([1.2], 10), ([0.5], 0), ([0.5], 2.5)])
def test_accuracy_interval_refuses_what_is_not_an_accuracy(accuracies, n_test):
    with pytest.raises(ValueError):
        accuracy_interval(accuracies, n_test)


def _coverage(sd: float, trials: int = 150) -> tuple[float, float]:
    """Fraction of intervals covering p = 0.9 when 5 seeds' true accuracies scatter by ``sd`` and
    each is measured on 400 test images; and their median width."""
    rng = np.random.default_rng(7)
    hits, widths = 0, []
    for _ in range(trials):
        accuracies = rng.binomial(400, np.clip(rng.normal(0.9, sd, 5), 0, 1)) / 400
        summary = accuracy_interval(accuracies, 400)
        hits += summary.low <= 0.9 <= summary.high
        widths.append(summary.high - summary.low)
    return hits / trials, float(np.median(widths))


def test_interval_covers_the_true_accuracy_about_as_often_as_it_claims():
    # Only test-set noise: a bootstrap over seeds alone covers about 85 % of the time here.
    coverage, width = _coverage(sd=0.0)
    assert 0.93 <= coverage and width < 0.06
    coverage, width = _coverage(sd=0.02)  # seeds that differ as well
    assert 0.85 <= coverage and width < 0.08


def test_accuracy_difference_is_paired_and_bounded():
    summary = accuracy_difference([0.90, 0.91, 0.92, 0.93, 0.94], [0.88, 0.89, 0.90, 0.91, 0.92], 10_000)
    assert summary.mean == pytest.approx(0.02) and summary.n == 5
    assert 0 < summary.low < 0.02 < summary.high < 0.04
    extreme = accuracy_difference([1.0, 1.0], [0.0, 0.0], 50)
    assert extreme.high <= 1 and extreme.low > 0.9
    assert accuracy_difference([0.9, np.nan], [np.nan, 0.8], 10).n == 0


def test_paired_difference_is_the_t_interval_of_the_differences():
    summary = paired_difference([3.0, 5.0, 7.0], [1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # differences 2, 3, 4: sd 1
    assert summary.mean == pytest.approx(3.0)
    assert (summary.low, summary.high) == pytest.approx((3 - half, 3 + half))


def test_ratio_interval_on_a_known_case():
    # Ratios 2 and 8: geometric mean 4; log ratios ln 2 and 3 ln 2 have sd sqrt(2) ln 2, so the
    # 95 % half-width on the log scale is t(0.975, 1) ln 2 = 12.7062 ln 2.
    summary = ratio_interval([2.0, 16.0], [1.0, 2.0])
    assert summary.mean == pytest.approx(4.0)
    assert summary.low == pytest.approx(4 * 2**-12.7062, rel=1e-4)
    assert summary.high == pytest.approx(4 * 2**12.7062, rel=1e-4)
    with pytest.raises(ValueError, match="positive"):
        ratio_interval([1.0, 0.0], [1.0, 1.0])


@pytest.mark.parametrize(
    ("interval", "higher_is_better", "null", "expected"),
    [
        ((0.01, 0.03), True, 0.0, "bio"),
        ((0.01, 0.03), False, 0.0, "twin"),
        ((-0.03, -0.01), True, 0.0, "twin"),
        ((-0.03, -0.01), False, 0.0, "bio"),
        ((-0.01, 0.03), True, 0.0, None),
        ((0.3, 0.9), False, 1.0, "bio"),  # bio / twin energy below 1: the bio model uses less
        ((0.9, 1.2), False, 1.0, None),
        ((math.nan, math.nan), True, 0.0, None),
    ],
)
def test_better_member(interval, higher_is_better, null, expected):
    summary = Summary(sum(interval) / 2, *interval, 5)
    assert better_member(summary, higher_is_better, null) == expected


def test_holm_by_hand_with_nan_left_out_of_the_family():
    # m = 3: sorted 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06.
    adjusted = holm_adjusted([0.01, math.nan, 0.04, 0.03])
    assert math.isnan(adjusted[1])
    assert adjusted[[0, 2, 3]] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm_adjusted([math.nan])).all()


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_images():
    # 20 images both right, 1 only a right, 7 only b right, 2 both wrong:
    # p = 2 P(X <= 1 | 8, 1/2) = 2 (1 + 8) / 256.
    a = np.array([True] * 20 + [True] * 1 + [False] * 7 + [False] * 2)
    b = np.array([True] * 20 + [False] * 1 + [True] * 7 + [False] * 2)
    test = mcnemar_test(a, b)
    assert (test.a_only, test.b_only, test.n) == (1, 7, 30)
    assert test.p_value == pytest.approx(18 / 256)
    assert mcnemar_test(a, a).p_value == 1.0
    with pytest.raises(ValueError, match="same test images"):
        mcnemar_test(a, b[:-1])


def test_dof_note_says_when_seeds_are_too_few():
    assert dof_note(3) == "n = 3 seeds, 2 degrees of freedom: below the 5 seeds a headline claim needs"
    assert dof_note(5) == "n = 5 seeds, 4 degrees of freedom"
    assert dof_note(2).startswith("n = 2 seeds, 1 degree of freedom:")


def test_repro_cards_bound_test_accuracies_when_the_test_set_size_is_stored():
    from pathlib import Path

    import xarray as xr

    from neurosim.repro.measure import measurement, paired_delta

    def results(accuracy: list[float]) -> xr.Dataset:
        confusion = np.zeros((1, 2, 2, 2))
        confusion[..., 0, 0] = 40  # 40 test images
        return xr.Dataset(
            {
                "final_test_accuracy": (("model", "seed"), [accuracy]),
                "test_accuracy": (("model", "seed", "checkpoint"), np.array([accuracy])[..., None]),
                "train_accuracy": (("model", "seed", "checkpoint"), np.array([accuracy])[..., None]),
                "confusion": (("model", "seed", "class_true", "class_pred"), confusion),
            },
            coords={"model": ["m"], "seed": [0, 1]},
        )

    perfect = measurement(results([1.0, 1.0]), Path("."), "m", "final")
    assert perfect.n_images == 40 and perfect.summary.high == 1.0 and perfect.summary.low < 0.99
    assert measurement(results([1.0, 1.0]), Path("."), "m", "final_train").n_images == 0
    worse = measurement(results([0.9, 0.95]), Path("."), "m", "final")
    delta = paired_delta(worse, perfect)
    assert delta.mean == pytest.approx(-0.075) and -1 <= delta.low < delta.mean < delta.high <= 0.05
