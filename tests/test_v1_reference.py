"""The V1 reference: the shipped file holds no invented histogram (its stand-in is uniform and says
so), a published histogram would be read as a piecewise-linear CDF, malformed ones are refused,
the KS distance matches hand counts, and the file ships with the package."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurosim.analysis.v1_reference import REFERENCE_FILE, ks_distance, load_reference, parse_reference
from neurosim.config import tomllib
from neurosim.errors import UserError
from tests.conftest import REPO


def _file() -> dict:
    return json.loads((REPO / "neurosim" / "analysis" / "data" / REFERENCE_FILE).read_text())


def test_the_shipped_reference_is_the_labelled_uniform_stand_in():
    reference = load_reference()
    assert _file()["histogram"] is None  # its values were not sourced: docs/references/ringach2002.md
    assert not reference.published and "stand-in" in reference.label and "Ringach" in reference.label
    assert "J Neurosci 22(13):5639-5651" in reference.citation
    assert reference.cdf(np.array([0.0, 0.3, 1.0])).tolist() == pytest.approx([0.0, 0.3, 1.0])
    assert reference.bin_fractions(np.linspace(0, 1, 5)).tolist() == pytest.approx([0.25] * 4)


def test_ks_distance_by_hand():
    reference = load_reference()
    assert ks_distance(np.full(5, 0.8), reference) == pytest.approx(0.8)  # all at c: max(c, 1 - c)
    assert ks_distance(np.full(5, 0.3), reference) == pytest.approx(0.7)
    # Two units at 1/4 and 3/4: the ECDF is 0, 1/2, 1, at most 1/4 from the diagonal.
    assert ks_distance(np.array([0.25, 0.75, np.nan]), reference) == pytest.approx(0.25)
    assert np.isnan(ks_distance(np.array([np.nan]), reference))


def test_a_published_histogram_replaces_the_stand_in():
    data = _file() | {"histogram": {"edges": [0.0, 0.5, 1.0], "fractions": [0.2, 0.8], "where": "Fig. X"}}
    reference = parse_reference(data)
    assert reference.published and reference.label.endswith("CV histogram (Fig. X)")
    assert reference.short_label == "Ringach et al. 2002"
    assert reference.cdf(np.array([0.25, 0.5, 0.75])).tolist() == pytest.approx([0.1, 0.2, 0.6])
    # Units spread like the histogram (uniform within each bin) are at distance ~0.
    quantiles = np.concatenate([np.linspace(0, 0.5, 200, endpoint=False), np.linspace(0.5, 1, 800)])
    assert ks_distance(quantiles, reference) < 0.01


@pytest.mark.parametrize(
    "histogram, message",
    [
        ({"edges": [0.0, 1.0], "fractions": [0.5, 0.5], "where": ""}, "one more edge"),
        ({"edges": [0.0, 0.7, 0.5], "fractions": [0.5, 0.5], "where": ""}, "increase from 0 to 1"),
        ({"edges": [0.0, 0.5, 1.0], "fractions": [0.5, 0.6], "where": ""}, "sum to 1"),
    ],
)
def test_a_malformed_histogram_is_refused(histogram, message):
    with pytest.raises(UserError, match=message):
        parse_reference(_file() | {"histogram": histogram})


def test_the_reference_ships_as_package_data():
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert f"analysis/data/{REFERENCE_FILE}" in package_data["neurosim"]
