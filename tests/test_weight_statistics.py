"""The weight-statistics analysis: golden values of its measures, agreement with the stored models,
and its place in the registry, the CLI help and the report (an analysis in one file)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurosim.analysis.registry import ANALYSES
from neurosim.analysis.weight_statistics import (
    MEASURES,
    N_BINS,
    analyse_weight_statistics,
    normalised_histogram,
    weight_statistics,
)


def test_measures_and_histogram_of_a_hand_made_tensor():
    weights = torch.tensor([[0.0, 2.0], [-2.0, 0.0]])
    statistics = dict(zip(MEASURES, weight_statistics(weights), strict=True))
    assert statistics == pytest.approx(
        {"count": 4, "zero_fraction": 0.5, "mean": 0.0, "std": 2**0.5, "abs_max": 2.0}
    )
    histogram = normalised_histogram(weights)  # w / max|w| = 0, 1, -1, 0
    assert histogram.sum() == pytest.approx(1.0) and len(histogram) == N_BINS
    assert histogram[0] == histogram[-1] == 0.25 and histogram[N_BINS // 2] == 0.5


def test_the_stored_statistics_are_those_of_the_stored_models(stored_perceptron_run, tmp_path):
    from neurosim.analysis.stored_run import load_run
    from neurosim.report import build_report
    from neurosim.run_loading import load_fitted_model

    result = analyse_weight_statistics(stored_perceptron_run)
    config, task = load_run(stored_perceptron_run)
    model = load_fitted_model(stored_perceptron_run, config.member("linear"), task, 1)
    weight = model.state_dict()["layers.0.weight"]
    linear = result["weights__linear"].sel(seed=1)
    assert list(linear["tensor__linear"].values) == ["layers.0.weight"]  # the bias is left out
    np.testing.assert_allclose(linear.sel(measure="std").values, [float(weight.double().std(correction=0))])
    assert linear.sel(measure="count").values.tolist() == [weight.numel()]
    # The perceptron never changes the weights of pixels that are 0 in every training image.
    perceptron = result["weights__perceptron"].sel(measure="zero_fraction").values
    assert (perceptron > 0).all() and float(result["weights__linear"].sel(measure="zero_fraction").max()) == 0
    np.testing.assert_allclose(result.histogram.sum("bin").values, 1.0)

    assert ANALYSES.get("weight_statistics").stored(stored_perceptron_run) is not None
    text = (build_report(stored_perceptron_run, tmp_path / "report").parent / "report.md").read_text()
    assert "## Weight statistics (stored models)" in text and "| linear | layers.0.weight | 640 |" in text
    assert (tmp_path / "report" / "figures" / "weight_histogram_perceptron_linear.png").stat().st_size > 1000
