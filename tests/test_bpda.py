"""BPDA's differentiable view: a gradient reaches the input of models that threshold, sample or pick
a winner, only inside the view, and the models are restored afterwards; EOT's noise sources."""

import pytest
import torch

from neurosim.analysis.bpda import differentiable_view, straight_through
from neurosim.analysis.eot import is_stochastic, noise_sources
from neurosim.analysis.robustness import has_input_gradient
from neurosim.models import MODELS


def test_straight_through_is_hard_forward_and_soft_backward():
    x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    soft = torch.sigmoid(x)
    value = straight_through((x > 0).float(), soft)
    assert value.tolist() == [0.0, 1.0, 1.0]
    (gradient,) = torch.autograd.grad(value.sum(), x)
    assert torch.allclose(gradient, soft * (1 - soft))


@pytest.mark.parametrize(
    ("name", "options", "label"),
    [
        ("perceptron_rosenblatt", {"n_association_units": 64}, "sigmoid for threshold units"),
        ("kmeans", {"n_prototypes": 10}, "softmin over prototypes"),
        ("snn_mlp", {"hidden_sizes": [16], "n_steps": 4, "encoder": "rate"}, "straight-through rate encoder"),
    ],
)
def test_a_gradient_reaches_the_input_only_inside_the_view(name, options, label):
    torch.manual_seed(0)
    model = MODELS.get(name)((1, 8, 8), 10, **options).eval()
    if name == "kmeans":  # prototypes at random images, every class assigned to some
        model.prototypes.weight.data = torch.rand(10, 64)
        model.assignment.weight.data = torch.cat([torch.eye(10), torch.ones(10, 1)], dim=1)
    if name == "perceptron_rosenblatt":  # an untrained readout is all zeros
        model.readout.weight.data = torch.randn(10, 64)
    x, y = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
    assert not has_input_gradient(model, x, y)
    before = {id(m): dict(m.__dict__) for m in model.modules()}
    with differentiable_view(model) as replaced:
        assert label in replaced
        assert has_input_gradient(model, x, y)
    assert {id(m): dict(m.__dict__) for m in model.modules()} == before  # restored


def test_the_view_widens_the_surrogate_of_spiking_neurons_and_rate_spikes_are_stochastic():
    torch.manual_seed(0)
    direct = MODELS.get("snn_mlp")((1, 8, 8), 10, hidden_sizes=[16], n_steps=4)
    rate = MODELS.get("snn_mlp")((1, 8, 8), 10, hidden_sizes=[16], n_steps=4, encoder="rate")
    x = torch.rand(8, 1, 8, 8)
    with differentiable_view(direct) as replaced:
        assert replaced == ["adaptive surrogate"]
    assert not is_stochastic(direct, x) and noise_sources(direct) == []
    assert is_stochastic(rate, x) and [a for _, a in noise_sources(rate)] == ["generator"]


@pytest.mark.slow
def test_diehl_cook_exposes_its_poisson_seed_and_gets_a_surrogate_forward():
    torch.manual_seed(0)
    model = MODELS.get("diehl_cook")((1, 8, 8), 10, n_neurons=10).eval()
    model.assignment.weight.data = torch.cat([torch.rand(10, 10), torch.ones(10, 1)], dim=1)  # all assigned
    x = torch.rand(4, 1, 8, 8)
    assert [a for _, a in noise_sources(model)] == ["encoding_seed"]
    assert is_stochastic(model, x)
    with differentiable_view(model) as replaced:
        assert replaced == ["soft winner-take-all of drive"]
        counts = model.excitatory(model.retina(x))
        assert torch.allclose(counts.sum(1), torch.ones(4))  # the soft winner-take-all
    assert model.excitatory.encoding_seed == 0
