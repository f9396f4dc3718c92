import numpy as np
import pytest
import torch
import xarray as xr

from neurosim.results import (
    atomic_write,
    combine_fits,
    fit_dataset,
    open_dataset,
    save_dataset,
    validate_fit,
)
from neurosim.results.provenance import provenance
from neurosim.results.schema import operation_variables
from neurosim.training import FitResult, History


def fake_fit(member="m", seed=0, accuracy=0.5):
    history = History(
        step=[1, 2],
        samples_seen=[4, 8],
        epoch=[0.5, 1.0],
        test_accuracy=[0.3, accuracy],
        train_accuracy=[0.3, 0.6],
        train_loss=[1.0, 0.8],
        wall_time=[0.1, 0.2],
    )
    confusion = torch.tensor([[3, 1], [1, 3]])
    result = FitResult(history, "cross_entropy", confusion, accuracy, n_train=8)
    attrs = {
        "member": member,
        "model": "mlp",
        "role": "twin",
        "pairs": "p",
        "seed": seed,
        "input_shape": "[2]",
        "config": "{}",
        "fit_hash": "abc",
        **provenance("cpu"),
    }
    layer = {
        name: 1.0 for name in ("dense_macs", "effective_macs", "effective_acs", "neuron_updates", "spikes")
    }
    operations = operation_variables(
        {"layers.0": layer | {"activation_sparsity": 0.5}}, {"layers.0": "dense"}, 4
    )
    return fit_dataset(result, np.ones((3, 2)), {"trainable": 9, "fixed": 0}, attrs, operations)


def test_fit_dataset_has_units_dims_and_provenance():
    dataset = fake_fit()
    assert dataset.test_accuracy.attrs["units"] == "1"
    assert dataset.samples_seen.values.tolist() == [4, 8]
    assert dataset.attrs["git_sha"] and dataset.attrs["torch_version"]
    validate_fit(dataset)


@pytest.mark.parametrize("breakage", ["units", "provenance", "dims", "range"])
def test_schema_check_rejects_broken_results(breakage):
    dataset = fake_fit()
    if breakage == "units":
        del dataset.test_accuracy.attrs["units"]
    elif breakage == "provenance":
        del dataset.attrs["git_sha"]
    elif breakage == "dims":
        dataset["confusion"] = (("a", "b"), np.zeros((2, 2)), dataset.confusion.attrs)
    else:
        dataset["test_accuracy"] = dataset.test_accuracy + 2
        dataset.test_accuracy.attrs.update(units="1", long_name="x")
    with pytest.raises(ValueError, match="schema violated"):
        validate_fit(dataset)


def test_save_and_open_roundtrip(tmp_path):
    dataset = fake_fit()
    save_dataset(tmp_path / "fit.nc", dataset)
    xr.testing.assert_identical(open_dataset(tmp_path / "fit.nc"), dataset)


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "result.nc"
    target.write_text("previous complete result")

    def failing_writer(path):
        path.write_text("half a fi")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing_writer)
    assert target.read_text() == "previous complete result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.nc"]


def test_combine_fits_stacks_models_and_seeds():
    fits = {
        (m, s): fake_fit(m, s, accuracy=0.1 * s + (0.5 if m == "b" else 0.2)) for m in "ab" for s in (0, 1)
    }
    combined = combine_fits(fits, {"comparison": "c"})
    assert combined.final_test_accuracy.dims == ("model", "seed")
    assert combined.model.values.tolist() == ["a", "b"]
    assert combined.final_test_accuracy.sel(model="b", seed=1) == pytest.approx(0.6)
    assert combined.confusion.dims == ("model", "seed", "class_true", "class_pred")


def test_combine_fits_refuses_misaligned_checkpoint_grids():
    other = fake_fit("b").assign_coords(samples_seen=("checkpoint", [4, 16]))
    with pytest.raises(ValueError, match="different checkpoint grid"):
        combine_fits({("a", 0): fake_fit("a"), ("b", 0): other}, {})
