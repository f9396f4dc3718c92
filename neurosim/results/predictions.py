"""Per-image test predictions and labelled class axes in the results.

A fit stores the class it predicts for each test image (``test_prediction``, dim ``test_image``)
beside the image's true class (coordinate ``test_label``), so that two members fitted with the
same seed can be compared image by image (McNemar's test,
:func:`neurosim.analysis.statistics.mcnemar_test`), not only by their accuracies. Predictions are
class indices (``int16``: up to 32 767 classes) and -1 where a fit has none (it diverged).

The run's ``results.nc`` stacks them along ``model`` and ``seed`` (:func:`stacked_predictions`);
fits stored before predictions were recorded have none, and :func:`correct_by_seed` then finds
nothing for them, so a report says "not available" rather than failing.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
import xarray as xr

#: Prediction of a fit that has none (it diverged, or was stored before predictions were).
NO_PREDICTION = -1
PREDICTION_DTYPE = np.int16


def prediction_variables(
    prediction: torch.Tensor | None, label: torch.Tensor | None, n_classes: int, class_names: list[str]
) -> dict[str, Any]:
    """``{"variables", "coords"}`` of a fit Dataset: ``test_prediction`` ``[N]`` on ``test_image``
    with ``test_label`` (when ``prediction`` and ``label`` are given), and the labelled class
    axes ``class_true``/``class_pred`` (``0..n_classes-1``; ``class_names`` as a JSON attribute
    when the task names its classes)."""
    named = {"class_names": json.dumps(list(class_names))} if class_names else {}
    classes = np.arange(n_classes)
    coords: dict[str, Any] = {
        "class_true": ("class_true", classes, {"units": "1", "long_name": "true class (index)", **named}),
        "class_pred": (
            "class_pred",
            classes,
            {"units": "1", "long_name": "predicted class (index)", **named},
        ),
    }
    if prediction is None or label is None:
        return {"variables": {}, "coords": coords}
    coords["test_image"] = (
        "test_image",
        np.arange(len(label)),
        {"units": "1", "long_name": "test image (index into the evaluation split)"},
    )
    coords["test_label"] = (
        "test_image",
        label.numpy().astype(PREDICTION_DTYPE),
        {"units": "1", "long_name": "true class of the test image (index)", **named},
    )
    variable = xr.Variable(
        ("test_image",),
        prediction.numpy().astype(PREDICTION_DTYPE),
        attrs={
            "units": "1",
            "long_name": "class predicted for the test image after training (index; -1: none)",
        },
    )
    return {"variables": {"test_prediction": variable}, "coords": coords}


def stacked_predictions(
    fits: dict[tuple[str, int], xr.Dataset], members: list[str], seeds: list[int]
) -> xr.Variable | None:
    """``test_prediction`` ``[model, seed, test_image]`` of the fits that stored it (-1 for those
    that did not), or ``None`` when none did. All must share the test split."""
    stored = [fit for fit in fits.values() if "test_prediction" in fit]
    if not stored:
        return None
    n_images = stored[0].sizes["test_image"]
    array = np.full((len(members), len(seeds), n_images), NO_PREDICTION, dtype=PREDICTION_DTYPE)
    for m, member in enumerate(members):
        for s, seed in enumerate(seeds):
            fit = fits[(member, seed)]
            if "test_prediction" not in fit:
                continue
            if fit.sizes["test_image"] != n_images:
                raise ValueError(
                    f"fit {(member, seed)} was tested on another split ({fit.sizes['test_image']} images)"
                )
            array[m, s] = fit.test_prediction.values
    return xr.Variable(("model", "seed", "test_image"), array, attrs=dict(stored[0].test_prediction.attrs))


def prediction_coords(fits: dict[tuple[str, int], xr.Dataset]) -> dict[str, Any]:
    """The ``test_image`` and ``test_label`` coordinates of the first fit that has them."""
    for fit in fits.values():
        if "test_label" in fit.coords:
            return {name: fit[name].variable for name in ("test_image", "test_label")}
    return {}


def correct_by_seed(results: xr.Dataset, model: str) -> dict[int, np.ndarray]:
    """``{seed: [N] bool}``: whether ``model``'s fit with that seed classified each test image
    correctly, for the seeds whose predictions are stored (none for runs stored before, or fits
    that diverged)."""
    if "test_prediction" not in results or "test_label" not in results.coords:
        return {}
    labels = results.test_label.values
    predictions = results.test_prediction.sel(model=model).transpose("seed", "test_image").values
    return {
        int(seed): row == labels
        for seed, row in zip(results.seed.values, predictions, strict=True)
        if not np.any(row == NO_PREDICTION)
    }


def n_test_images(results: xr.Dataset) -> int:
    """Test images each accuracy of ``results`` (a fit, a run or a sweep) was measured on: the
    length of ``test_image``, or for runs stored before it, the largest confusion-matrix total
    (a diverged fit's matrix is empty; a sweep's missing cells are NaN); 0 when nothing says."""
    if "test_image" in results.dims:
        return int(results.sizes["test_image"])
    if "confusion" not in results:
        return 0
    totals = results.confusion.sum(["class_true", "class_pred"], skipna=True, min_count=1).values
    finite = totals[np.isfinite(totals)]
    return int(finite.max()) if finite.size else 0
