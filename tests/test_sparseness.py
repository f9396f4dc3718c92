"""Sparseness and effective-dimensionality invariants (neurosim.analysis.sparseness)."""

import math

import pytest
import torch

from neurosim.analysis.sparseness import fraction_active, participation_ratio, vinje_gallant_sparseness


def test_a_one_hot_code_is_maximally_sparse_and_a_uniform_code_is_dense():
    one_hot = torch.eye(8).repeat(3, 1)  # 24 stimuli, each drives exactly one of 8 units
    assert fraction_active(one_hot) == {"population": 1 / 8, "lifetime": 1 / 8}
    assert vinje_gallant_sparseness(one_hot)["population"] == pytest.approx(1.0)
    uniform = torch.full((5, 8), 0.3)
    assert vinje_gallant_sparseness(uniform) == {
        "population": pytest.approx(0.0),
        "lifetime": pytest.approx(0.0),
    }
    assert fraction_active(uniform, threshold=0.5) == {"population": 0.0, "lifetime": 0.0}


def test_vinje_gallant_golden_value_and_silent_rows():
    # One stimulus, responses [1, 0, 0, 1]: mean 0.5, mean square 0.5 -> (1 - 0.5) / (1 - 1/4) = 2/3.
    activity = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    assert vinje_gallant_sparseness(activity)["population"] == pytest.approx(2 / 3)  # silent row skipped
    with pytest.raises(ValueError, match="non-negative"):
        vinje_gallant_sparseness(-activity - 1)


def test_participation_ratio_counts_the_directions_that_carry_variance():
    generator = torch.Generator().manual_seed(0)
    isotropic = torch.randn(20000, 10, generator=generator)
    assert participation_ratio(isotropic) == pytest.approx(10.0, rel=0.02)
    rank_one = torch.randn(500, 1, generator=generator) * torch.randn(1, 30, generator=generator)
    assert participation_ratio(rank_one) == pytest.approx(1.0, abs=1e-9)
    two_equal = torch.cat([torch.randn(5000, 2, generator=generator), torch.zeros(5000, 40)], 1)
    assert participation_ratio(two_equal) == pytest.approx(2.0, rel=0.02)
    # Fewer stimuli than units: computed through the [n, n] Gram matrix, same answer as transposed data.
    wide = torch.randn(6, 50, generator=generator)
    assert participation_ratio(wide) <= 5.0 + 1e-9
    assert math.isnan(participation_ratio(torch.ones(4, 3)))
