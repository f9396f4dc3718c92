"""Probe points: every model names them by the convention of :mod:`neurosim.probes` (``<layer>.pre``
right before ``<layer>``), a layer's output is its nonlinearity applied to its current, and the probe
modules change no number of any forward pass."""

import pytest
import torch
import torch.nn.functional as F

from neurosim import probes
from neurosim.analysis.activity import record_activity
from neurosim.models import MODELS
from neurosim.models.base import Probe
from neurosim.models.lenet import squash
from neurosim.models.softhebb import triangle

SHAPE = (1, 8, 8)


def _small(name: str, **options):
    """``name`` built for 8x8 digits (with its card's small-image options), seed 0, eval mode."""
    card = MODELS.card(name)
    defaults = {} if card.accepts(SHAPE) else dict(card.small_image_options or {})
    torch.manual_seed(0)
    return MODELS.get(name)(SHAPE, 10, **{**defaults, **options}).eval()


def _inputs(n: int = 6) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1))


def test_the_naming_helpers():
    names = ["conv1.pre", "conv1", "conv2", "output.pre", "output"]
    assert probes.current("conv1") == "conv1.pre" and probes.is_current("conv1.pre")
    assert probes.outputs(names) == ["conv1", "conv2", "output"]
    assert probes.currents(names) == ["conv1.pre", "output.pre"]
    assert probes.layer_of("output.pre") == probes.layer_of("output") == "output"
    assert probes.last_hidden(names, "output") == "conv2"
    assert probes.last_hidden(["excitatory"], None) == "excitatory"
    assert probes.last_hidden(["readout"], "readout") is None


@pytest.mark.parametrize("name", MODELS.list())
def test_every_model_keeps_the_probe_naming_convention(name):
    model = _small(name)
    names = list(model.probe_points())
    assert len(set(names)) == len(names) and names
    for index, point in enumerate(names):
        if probes.is_current(point):  # a current is followed at once by its layer's output
            assert index + 1 < len(names) and names[index + 1] == probes.layer_of(point), names
    assert not any(p.endswith(".pre.pre") for p in names)
    readout = model.readout_probe()
    assert readout is None or readout in names, f"readout {readout!r} is no probe point of {names}"
    # Every probe point is reached by a forward pass (record_activity raises otherwise).
    recorded = record_activity(model, _inputs(3), currents=True)
    assert list(recorded) == names
    assert list(record_activity(model, _inputs(3))) == probes.outputs(names)


EXPECTED_NAMES = {
    "hebbian_krotov": ["hidden.pre", "hidden", "output.pre", "output"],
    "softhebb_mlp": ["hidden.pre", "hidden", "output"],
    "softhebb_cnn": ["conv1.pre", "conv1", "conv2.pre", "conv2", "output"],
    "cnn": ["conv1.pre", "conv1", "conv2.pre", "conv2", "output"],
    "mlp": ["hidden1.pre", "hidden1", "output"],
    "snn_mlp": ["hidden1", "output"],  # spike counts: the spikes are the nonlinearity
    "diehl_cook": ["excitatory"],
    "neocognitron": ["us1", "uc1", "us2", "uc2", "us3", "uc3", "us4"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_probe_names_of_models_with_and_without_separate_nonlinearities(name):
    assert list(_small(name).probe_points()) == EXPECTED_NAMES[name]


def test_krotov_linear_readout_has_no_output_current():
    assert list(_small("hebbian_krotov", readout="linear").probe_points()) == [
        "hidden.pre",
        "hidden",
        "output",
    ]


def _pair(name: str, layer: str, **options) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Module]:
    """(current, output) of ``layer`` (unflattened) and the model, on fixed inputs."""
    model = _small(name, **options)
    recorded = record_activity(model, _inputs(), currents=True, flatten=False)
    return recorded[probes.current(layer)], recorded[layer], model


def test_krotov_hidden_output_is_the_rectified_power_of_its_current():
    current, output, model = _pair("hebbian_krotov", "hidden")
    assert model.power == 4.5 and (current < 0).any()  # the rectification matters here
    torch.testing.assert_close(output, F.relu(current).pow(4.5), rtol=0, atol=0)
    current, output, model = _pair("hebbian_krotov", "output")
    torch.testing.assert_close(output, torch.tanh(model.beta * current), rtol=0, atol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_hidden_output_is_the_activation_of_its_current(activation):
    current, output, _ = _pair("mlp", "hidden1", hidden_sizes=[16], activation=activation)
    function = torch.relu if activation == "relu" else torch.tanh
    assert (current < 0).any()
    torch.testing.assert_close(output, function(current), rtol=0, atol=0)


def test_softhebb_mlp_features_are_the_scaled_softmax_of_the_currents():
    current, output, model = _pair("softhebb_mlp", "hidden", n_hidden=30)
    expected = 30 * torch.softmax(model.feature_t_invert * current, dim=1)
    torch.testing.assert_close(output, expected, rtol=0, atol=0)
    assert torch.allclose(output.sum(1), torch.full((len(output),), 30.0))


def test_conv_block_outputs_are_pooled_nonlinearities_of_the_convolutions():
    current, output, _ = _pair("cnn", "conv2")
    torch.testing.assert_close(output, torch.relu(F.max_pool2d(current, 2)), rtol=0, atol=0)
    current, output, model = _pair("softhebb_cnn", "conv1")
    expected = model.pool(triangle(current, model.triangle_powers[0]))
    torch.testing.assert_close(output, expected, rtol=0, atol=0)
    assert output.shape[-1] == current.shape[-1] // 2


def test_lenet_layer_outputs_are_squashed_sums():
    for layer in ("c1", "s2", "f6"):
        current, output, _ = _pair("lenet5", layer)
        torch.testing.assert_close(output, squash(current), rtol=0, atol=0)


#: Logits of each model with probe modules, built from seed 0 on ``_inputs()``, recorded with the
#: code before the probes were added: (first logit, last logit, sum of |logits|, state-dict entries).
BEFORE_PROBES = {
    "cnn": (-0.04732818901538849, 0.10030439496040344, 2.465260462835431, 6),
    "hebbian_krotov": (-0.15820161998271942, -0.2985336482524872, 52.41973336040974, 2),
    "krotov_backprop": (-1.7357941032969393e-05, -4.264792733010836e-05, 0.0024643847643801564, 2),
    "lenet5": (0.009848716668784618, 0.0020058131776750088, 1.110323186730966, 15),
    "mlp": (0.1548653393983841, -0.1502975970506668, 6.941456342115998, 4),
    "softhebb_cnn": (821.8139038085938, 234.4681854248047, 44401.40998840332, 10),
    "softhebb_cnn_backprop": (0.16178441047668457, -0.06035936623811722, 5.775757750496268, 10),
    "softhebb_mlp": (-0.22549736499786377, -14.599434852600098, 1203.2709571514279, 3),
    "softhebb_mlp_backprop": (0.9530978798866272, 0.4137665033340454, 38.248694446869195, 3),
}


@pytest.mark.parametrize("name", sorted(BEFORE_PROBES))
def test_probe_modules_change_no_output_and_no_state(name):
    model = _small(name)
    assert any(isinstance(m, Probe) for m in model.modules())
    with torch.no_grad():
        logits = model(_inputs()).double()
    first, last, total, entries = BEFORE_PROBES[name]
    # The same numbers up to another machine's (or thread count's) float32 summation order, whose
    # error scales with the logits' magnitude, not with one logit's (which may be near 0).
    scale = 1e-6 * total
    assert logits[0, 0].item() == pytest.approx(first, rel=1e-6, abs=scale)
    assert logits[-1, -1].item() == pytest.approx(last, rel=1e-6, abs=scale)
    assert logits.abs().sum().item() == pytest.approx(total, rel=1e-6)
    assert len(model.state_dict()) == entries, "probes must add no state (stored fits must load)"


def test_a_probe_returns_its_input_itself():
    x = torch.rand(3)
    assert Probe()(x) is x and not list(Probe().parameters()) and not list(Probe().buffers())
