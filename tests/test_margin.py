"""Margin losses against hand-computed values."""

import pytest
import torch

from neurosim.analysis.margin import cw_margin, dlr_loss


def test_cw_margin_and_dlr_golden_values():
    scores = torch.tensor([[3.0, 1.0, 0.5], [0.0, 2.0, 1.0], [1.0, 1.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    # max other - true: 1 - 3, 2 - 0, 1 - 1 (a tie is not a mistake)
    assert cw_margin(scores, labels).tolist() == [-2.0, 2.0, 0.0]
    # divided by z_(1) - z_(3): 3 - 0.5, 2 - 0, 1 - 0
    assert dlr_loss(scores, labels).tolist() == pytest.approx([-0.8, 1.0, 0.0])


def test_dlr_ignores_a_positive_scale_and_needs_three_classes():
    scores = torch.tensor([[0.3, -1.2, 2.0, 0.1]])
    labels = torch.tensor([2])
    assert dlr_loss(7.0 * scores, labels).item() == pytest.approx(dlr_loss(scores, labels).item())
    assert cw_margin(7.0 * scores, labels).item() == pytest.approx(7.0 * cw_margin(scores, labels).item())
    with pytest.raises(ValueError, match="3 classes"):
        dlr_loss(torch.zeros(1, 2), torch.tensor([0]))
