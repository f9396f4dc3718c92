"""Recording probe-point activity (spike counts for spiking layers) and layer x layer CKA maps."""

import pytest
import torch

from neurosim.analysis.activity import cka_map, record_activity
from neurosim.models import MODELS
from neurosim.tasks import TASKS


def _digits():
    return TASKS.get("digits")()


def test_record_activity_matches_the_layers_outputs_and_restores_the_mode():
    task = _digits()
    torch.manual_seed(0)
    model = MODELS.get("mlp")(task.input_shape, task.n_classes, hidden_sizes=[32])
    model.train()
    activity = record_activity(model, task.x_test[:70], batch_size=32)
    assert list(activity) == ["hidden1", "output"]  # outputs only by default: no currents
    assert activity["output"].shape == (70, task.n_classes)
    with_currents = record_activity(model, task.x_test[:70], batch_size=32, currents=True)
    assert list(with_currents) == ["hidden1.pre", "hidden1", "output"] == list(model.probe_points())
    assert torch.equal(with_currents["hidden1"], activity["hidden1"])
    assert (with_currents["hidden1.pre"] < 0).any() and (activity["hidden1"] >= 0).all()
    with torch.no_grad():
        model.eval()
        assert torch.allclose(activity["output"], model(task.x_test[:70]), atol=1e-6)
    model.train()
    record_activity(model, task.x_test[:5])
    assert model.training


def test_spiking_layers_record_spike_counts_over_the_presentation():
    task = _digits()
    torch.manual_seed(0)
    model = MODELS.get("snn_mlp")(task.input_shape, task.n_classes, hidden_sizes=[40], n_steps=6)
    counts = record_activity(model, task.x_test[:50])["hidden1"]
    assert counts.shape == (50, 40)
    assert torch.equal(counts, counts.round()) and counts.min() >= 0 and counts.max() <= 6
    assert counts.sum() > 0


def test_cka_map_of_a_model_with_itself_has_a_unit_diagonal():
    task = _digits()
    torch.manual_seed(0)
    model = MODELS.get("mlp")(task.input_shape, task.n_classes, hidden_sizes=[32, 16])
    activity = record_activity(model, task.x_test[:200])
    similarity = cka_map(activity, activity, "debiased")
    assert similarity.dims == ("layer_a", "layer_b")
    assert list(similarity.layer_a.values) == ["hidden1", "hidden2", "output"]
    assert similarity.values.diagonal() == pytest.approx([1.0, 1.0, 1.0])
    assert similarity.attrs == {"kind": "debiased", "n_stimuli": 200}
    assert similarity.values == pytest.approx(similarity.values.T, abs=1e-12)
