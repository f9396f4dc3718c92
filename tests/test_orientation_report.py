"""The orientation section's summary cell: the paired KS-distance difference decides "bio" or
"twin" only when its interval excludes 0 and the reference is the published one (never against
the stand-in), and an excluded (class readout) member gives no cell."""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurosim.analysis.orientation_report import bounded_mean_ci, orientation_summary


def _stored(
    bio: list[float], twin: list[float], excluded_twin: str = "", published: bool = True
) -> xr.Dataset:
    """A stored orientation result with only what the summary reads."""
    seeds = list(range(len(bio)))
    return xr.Dataset(
        {"cv_distance": (("model", "seed"), np.array([bio, twin]))},
        coords={"model": ["bio", "twin"], "seed": seeds},
        attrs={
            "excluded__bio": "",
            "excluded__twin": excluded_twin,
            "reference_short": ("" if published else "a uniform stand-in for ") + "Ringach et al. 2002",
            "reference_published": int(published),
        },
    )


def test_a_bio_model_closer_to_v1_on_every_seed_is_better():
    stored = _stored([0.30, 0.32, 0.29, 0.31, 0.30], [0.50, 0.49, 0.52, 0.51, 0.50])
    (cell,) = orientation_summary(stored, stored, "bio", "twin")
    assert cell.better == "bio"  # lower distance is closer to V1
    assert cell.difference.startswith("-0.200 [") and "n=5" in cell.difference
    assert "lower is closer" in cell.column and "Ringach et al. 2002" in cell.column
    assert cell.bio.startswith("0.3040")


def test_no_member_is_called_more_v1_like_against_the_stand_in():
    """The same distances measured to the uniform stand-in: numbers, no verdict, and the cell says
    why; a result stored before ``reference_published`` existed is read from its reference's name."""
    stored = _stored([0.30, 0.32, 0.29, 0.31, 0.30], [0.50, 0.49, 0.52, 0.51, 0.50], published=False)
    older = stored.copy()
    del older.attrs["reference_published"]
    for result in (stored, older):
        (cell,) = orientation_summary(result, result, "bio", "twin")
        assert cell.better is None and cell.what == ""
        assert cell.difference.startswith("-0.200 [")
        assert cell.difference.endswith("; no claim: the reference is a stand-in")


def test_no_decision_when_the_interval_contains_zero_and_no_cell_for_a_readout():
    stored = _stored([0.30, 0.50, 0.40], [0.40, 0.40, 0.41])
    (cell,) = orientation_summary(stored, stored, "bio", "twin")
    assert cell.better is None
    stored = _stored([0.30, 0.50, 0.40], [0.40, 0.40, 0.41], excluded_twin="class readout: ...")
    assert orientation_summary(stored, stored, "bio", "twin") == []
    stored = _stored([np.nan, np.nan], [0.40, 0.41])  # no responsive unit in any seed
    assert orientation_summary(stored, stored, "bio", "twin") == []


def test_twin_closer_to_v1_is_better():
    stored = _stored([0.6, 0.62, 0.61], [0.2, 0.21, 0.19])
    (cell,) = orientation_summary(stored, stored, "bio", "twin")
    assert cell.better == "twin" and cell.difference.startswith("+0.410")


def test_intervals_of_bounded_quantities_stay_in_their_range():
    assert bounded_mean_ci(np.array([0.1, 0.9])) == "0.5000 [0.0000, 1.0000]"  # t(1) runs far past both
    assert bounded_mean_ci(np.array([0.4, 0.5, 0.6])) == "0.5000 [0.2516, 0.7484]"  # inside: unchanged
    assert bounded_mean_ci(np.array([0.3, np.nan])) == "0.3000 (n=1)"
