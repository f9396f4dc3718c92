"""Report figures: the weight mosaic's layout and scaling (hand-checked values)."""

from __future__ import annotations

import numpy as np

from neurosim.report.figures import unit_mosaic


def test_the_weight_mosaic_tiles_units_row_by_row_each_scaled_to_its_largest_magnitude():
    images = np.stack([np.full((2, 3), 2.0), np.full((2, 3), -0.5), np.arange(6.0).reshape(2, 3)])
    mosaic = unit_mosaic(images, columns=2)
    assert mosaic.shape == (2 * 3 - 1, 2 * 4 - 1)  # 2 rows of 2x3 tiles, 1-pixel gutters
    np.testing.assert_array_equal(mosaic[0:2, 0:3], 1.0)  # unit 0: 2 / 2
    np.testing.assert_array_equal(mosaic[0:2, 4:7], -1.0)  # unit 1: -0.5 / 0.5
    np.testing.assert_allclose(mosaic[3:5, 0:3], np.arange(6.0).reshape(2, 3) / 5)  # unit 2, next row
    assert np.isnan(mosaic[2]).all() and np.isnan(mosaic[:, 3]).all(), "gutters are blank"
    assert np.isnan(mosaic[3:5, 4:7]).all(), "no fourth unit: blank"
