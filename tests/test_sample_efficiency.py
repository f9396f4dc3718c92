"""Learning-curve summaries: hand-computed values, edge cases and bad input."""

import math

import numpy as np
import pytest

from neurosim.analysis.sample_efficiency import labels_to_reach, normalised_auc


def test_labels_to_reach_interpolates_in_log_labels():
    labels, accuracy = np.array([1, 10, 100]), np.array([0.5, 0.8, 0.9])
    # target 0.81 lies a tenth of the way from 0.8 (10 labels) to 0.9 (100): 10^(1 + 0.1)
    assert labels_to_reach(labels, accuracy) == pytest.approx(10**1.1)
    assert labels_to_reach(labels, np.array([0.85, 0.88, 0.9])) == 1.0  # reached at once
    assert labels_to_reach(labels, accuracy, fraction=1.0) == pytest.approx(100.0)
    assert math.isnan(labels_to_reach(labels, np.array([0.5, np.nan, 0.9])))


def test_normalised_auc_is_the_mean_accuracy_on_a_log_axis():
    labels = np.array([1, 10, 100])
    assert normalised_auc(labels, np.array([0.5, 0.8, 0.9])) == pytest.approx((0.65 + 0.85) / 2)
    assert normalised_auc(labels, np.full(3, 0.7)) == pytest.approx(0.7)  # a flat curve is its level
    faster = normalised_auc(labels, np.array([0.8, 0.88, 0.9]))
    assert faster > normalised_auc(labels, np.array([0.5, 0.8, 0.9]))


def test_bad_curves_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        normalised_auc(np.array([10, 1, 100]), np.array([0.5, 0.6, 0.7]))
    with pytest.raises(ValueError, match="same length"):
        labels_to_reach(np.array([1, 10]), np.array([0.5, 0.6, 0.7]))
