"""The online mean-image centring used by the Krotov-Hopfield model (neurosim.models.centring)."""

import torch

from neurosim.models.centring import RunningMeanCentring


def test_training_mode_learns_the_exact_mean_of_every_input_seen_whatever_the_batches():
    torch.manual_seed(0)
    data = torch.rand(10, 4) + torch.arange(4.0)
    centring = RunningMeanCentring(4)
    for batch in data.split([3, 5, 2]):
        out = centring(batch)
    assert int(centring.count) == 10
    assert torch.allclose(centring.mean, data.mean(0), atol=1e-6)
    assert torch.allclose(out, data[8:] - data.mean(0), atol=1e-6)  # centred by the updated mean


def test_evaluation_mode_subtracts_a_fixed_mean():
    centring = RunningMeanCentring(3)
    centring(torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    centring.eval()
    out = centring(torch.tensor([[10.0, 10.0, 10.0]]))
    assert torch.equal(centring.mean, torch.tensor([2.0, 2.0, 2.0]))
    assert torch.equal(out, torch.tensor([[8.0, 8.0, 8.0]]))
    assert int(centring.count) == 2


def test_the_mean_is_stored_with_the_model_and_gets_no_gradient():
    centring = RunningMeanCentring(2)
    x = torch.ones(4, 2, requires_grad=True)
    centring(x).sum().backward()
    assert set(centring.state_dict()) == {"mean", "count"}
    assert list(centring.parameters()) == []
    assert torch.equal(x.grad, torch.ones(4, 2))  # d(x - m)/dx = 1: m is not a function of x
