"""Per-image predictions stored with each fit (for McNemar's test), labelled class and checkpoint
axes, and the labelled subset drawn with each fit's seed and recorded."""

import json

import numpy as np
import pytest
import torch

from neurosim import config
from neurosim.analysis.statistics import mcnemar_test
from neurosim.results.predictions import correct_by_seed, n_test_images
from neurosim.results.schema import combine_fits
from neurosim.results.storage import open_dataset
from neurosim.run_folder import fit_path
from neurosim.runner import fit_hash
from tests.test_results import fake_fit


def test_each_fit_stores_its_test_predictions_and_the_run_stacks_them(stored_perceptron_run):
    fit = open_dataset(fit_path(stored_perceptron_run, "perceptron", 1))
    assert fit.test_prediction.dims == ("test_image",) and fit.test_prediction.attrs["long_name"]
    # The predictions are the ones the confusion matrix and the final accuracy count.
    labels, predicted = fit.test_label.values, fit.test_prediction.values
    assert np.mean(predicted == labels) == pytest.approx(float(fit.final_test_accuracy))
    pairs = np.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
    assert np.array_equal(pairs, fit.confusion.values)
    results = open_dataset(stored_perceptron_run / "results.nc")
    assert results.test_prediction.dims == ("model", "seed", "test_image")
    correct = correct_by_seed(results, "perceptron")
    assert sorted(correct) == [0, 1] and correct[1].mean() == pytest.approx(float(fit.final_test_accuracy))
    assert n_test_images(results) == len(labels) == int(fit.confusion.sum())
    test = mcnemar_test(correct[0], correct_by_seed(results, "linear")[0])
    assert test.n == len(labels) and 0 <= test.p_value <= 1


def test_coordinates_and_class_axes_carry_units_and_names(stored_perceptron_run):
    results = open_dataset(stored_perceptron_run / "results.nc")
    for name in ("samples_seen", "epoch", "step", "class_true", "class_pred", "test_image", "test_label"):
        assert results[name].attrs["units"] and results[name].attrs["long_name"], name
    assert results.class_true.values.tolist() == list(range(10))
    assert json.loads(results.class_pred.attrs["class_names"]) == [str(d) for d in range(10)]


def test_the_subset_seed_of_each_fit_is_recorded(stored_perceptron_run):
    # The stored run leaves task.subset_seed at its default, "seed": each fit's own seed.
    assert open_dataset(fit_path(stored_perceptron_run, "linear", 1)).attrs["subset_seed"] == 1
    results = open_dataset(stored_perceptron_run / "results.nc")
    assert results.labelled_subset_seed.values.tolist() == [[0, 1], [0, 1]]


def test_subsets_drawn_with_the_fit_seed_differ_between_seeds():
    from neurosim.models import MODELS
    from neurosim.tasks import TASKS
    from neurosim.training import Trainer

    task = TASKS.get("digits")()
    model = MODELS.get("linear")(task.input_shape, task.n_classes)
    cpu, training = torch.device("cpu"), config.TrainingConfig(epochs=1)
    drawn = {s: Trainer(model, task, training, s, cpu, 5, "seed").data.y_train for s in (0, 1)}
    images = {s: Trainer(model, task, training, s, cpu, 5, "seed").data.x_train for s in (0, 1)}
    assert torch.equal(torch.sort(drawn[0]).values, torch.sort(drawn[1]).values)  # 5 per class each
    assert not torch.equal(images[0], images[1])
    assert torch.equal(Trainer(model, task, training, 1, cpu, 5, 0).data.x_train, images[0])
    assert Trainer(model, task, training, 1, cpu, 5, 7).subset_seed == 7


def test_identities_of_runs_without_a_labelled_subset_did_not_change():
    """Golden hashes computed before subset_seed's default became "seed"."""
    every = config.resolve({"name": "t", "pairs": ["perceptron_rosenblatt_mlp"], "task": {"name": "digits"}})
    assert every.hash() == "0f04e8ff7a" and fit_hash(every, every.member("mlp"), 3) == "460b174d1c5e3a58"
    fixed = config.resolve(
        {"name": "t", "pairs": ["perceptron_rosenblatt_mlp"], "task": {"n_per_class": 10, "subset_seed": 0}}
    )
    assert fixed.hash() == "bb34c4231f" and fit_hash(fixed, fixed.member("mlp"), 3) == "13da116a3cc7ae35"
    drawn = config.resolve({"name": "t", "pairs": ["perceptron_rosenblatt_mlp"], "task": {"n_per_class": 10}})
    assert drawn.hash() != fixed.hash()  # a new draw per seed is a new computation


def test_fits_stored_before_predictions_still_combine_and_report_none():
    old = {(m, s): fake_fit(m, s) for m in "ab" for s in (0, 1)}
    combined = combine_fits(old, {})
    assert "test_prediction" not in combined and correct_by_seed(combined, "a") == {}
    assert n_test_images(combined) == 8  # from the confusion matrix
    assert n_test_images(combined.confusion.where(False).to_dataset()) == 0  # a sweep's missing cells
    assert combined.labelled_subset_seed.values.tolist() == [[-1, -1], [-1, -1]]  # config "{}"


def test_a_run_mixing_fits_stored_before_and_after_predictions_combines():
    """Seeds added to a run stored before predictions: those fits have them, the old ones -1."""
    from neurosim.results.predictions import prediction_variables

    per_image = prediction_variables(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0]), 2, ["x", "y"])
    new = fake_fit("a", 1).assign(per_image["variables"]).assign_coords(per_image["coords"])
    fits = {("a", 0): fake_fit("a", 0), ("a", 1): new, ("b", 0): fake_fit("b", 0), ("b", 1): fake_fit("b", 1)}
    combined = combine_fits(fits, {})
    assert combined.test_prediction.sel(model="a", seed=0).values.tolist() == [-1] * 4
    assert combined.test_label.values.tolist() == [0, 1, 0, 0]
    assert {s: c.tolist() for s, c in correct_by_seed(combined, "a").items()} == {
        1: [True, True, False, True]
    }
    assert correct_by_seed(combined, "b") == {}
