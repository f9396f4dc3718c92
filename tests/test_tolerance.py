"""Shift and deformation tolerance: the transformations do exactly what they say, and the analysis
of a stored run has strength 0 equal to clean accuracy and lands in the report."""

from pathlib import Path

import numpy as np
import pytest
import torch

from neurosim.analysis.tolerance import analyse_tolerance, tolerance_strengths
from neurosim.analysis.transforms import elastic, rotate, translate

from .conftest import clean_accuracy, run_cli


def test_translation_moves_every_image_by_exactly_k_pixels():
    x = torch.zeros(64, 1, 16, 16)
    x[:, 0, 8, 7] = 1.0  # one bright pixel, away from the border
    for k in (0, 1, 3):
        moved = translate(x, k, seed=5)
        assert torch.equal(moved, translate(x, k, seed=5))
        positions = moved[:, 0].flatten(1).argmax(1)
        rows, cols = positions // 16, positions % 16
        assert torch.equal(moved.sum((1, 2, 3)), torch.ones(64))  # values unchanged, nothing lost
        chebyshev = torch.maximum((rows - 8).abs(), (cols - 7).abs())
        assert torch.equal(chebyshev, torch.full((64,), k))
    directions = {(int(r), int(c)) for r, c in zip(rows - 8, cols - 7, strict=True)}
    assert len(directions) == 8  # all 8 directions occur


def test_rotation_by_90_degrees_is_a_quarter_turn_either_way():
    x = torch.rand(20, 1, 12, 12)
    turned = rotate(x, 90.0)
    for image, result in zip(x, turned, strict=True):
        quarter = [torch.rot90(image, k, dims=(1, 2)) for k in (1, -1)]
        assert any(torch.allclose(result, q, atol=1e-5) for q in quarter)
    assert torch.equal(rotate(x, 0.0), x)


def test_elastic_displacement_has_the_asked_rms():
    size = 64
    ramp = torch.arange(size, dtype=torch.float32) / size  # pixel index / size
    x = torch.stack([ramp.expand(size, size), ramp[:, None].expand(size, size)])[None]  # [1, 2, H, W]
    x = x.expand(8, 2, size, size).contiguous()
    for rms in (0.5, 2.0):
        moved = elastic(x, rms, sigma=8.0, seed=1)
        displacement = (moved - x)[:, :, 8:-8, 8:-8] * size  # in pixels (interior: no clipping)
        measured = float(displacement.pow(2).sum(1).mean().sqrt())
        assert measured == pytest.approx(rms, rel=0.15)
    assert torch.equal(elastic(x, 0.0), x)


def test_strengths_scale_with_the_image():
    assert tolerance_strengths(28)["translation"] == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    assert tolerance_strengths(8)["translation"] == (0.0, 1.0, 2.0)
    assert tolerance_strengths(56)["elastic"][-1] == pytest.approx(4.0)


def test_tolerance_analysis_of_a_stored_run(stored_perceptron_run):
    run_dir = stored_perceptron_run
    results = analyse_tolerance(run_dir, n_stimuli=300)
    accuracy = results.accuracy
    assert accuracy.dims == ("perturbation", "strength_index", "model", "seed")
    assert list(results.perturbation.values) == ["translation", "rotation", "elastic"]
    # Strength 0 goes through each transformation and must give the untransformed accuracy.
    clean = accuracy.sel(perturbation="translation", strength_index=0).copy(data=clean_accuracy(run_dir, 300))
    for perturbation in ("translation", "rotation", "elastic"):
        np.testing.assert_array_equal(accuracy.sel(perturbation=perturbation, strength_index=0), clean)
    # A 2-pixel shift of an 8x8 digit is a quarter of the image: a linear map cannot tolerate it.
    assert (accuracy.sel(perturbation="translation", strength_index=2) < clean - 0.3).all()
    assert np.isnan(accuracy.sel(perturbation="translation", strength_index=4)).all()  # only 0-2 on 8x8
    process = run_cli("analyse", str(run_dir), "--analyses", "tolerance", "--stimuli", "300")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert "Shift and deformation tolerance (the first 300 test images of digits" in report.read_text()
    assert (report.parent / "figures" / "tolerance_perceptron_linear.png").stat().st_size > 1000
