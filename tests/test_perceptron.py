"""Golden values and theorems for the perceptron rule and the Rosenblatt photoperceptron."""

import math

import pytest
import torch

from neurosim.config import TrainingConfig
from neurosim.models import MODELS
from neurosim.rules.perceptron import perceptron_sequential
from neurosim.tasks import TASKS
from neurosim.training import Trainer


def test_golden_single_update_on_a_mistake():
    """The rule the perceptron models train with, on one sample (a batch of one)."""
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    bias = torch.tensor([0.0, 0.0, 0.5])
    x = torch.tensor([[2.0, 1.0]])
    # responses [2, 1, 0.5]: predicts class 0, target 2 -> move class 2 toward x, class 0 away.
    d_weight, d_bias, mistakes, updates = perceptron_sequential(weight, bias, x, torch.tensor([2]))
    assert d_weight.tolist() == [[-2.0, -1.0], [0.0, 0.0], [2.0, 1.0]]
    assert d_bias.tolist() == [-1.0, 0.0, 1.0]
    assert mistakes == 1 and updates == 2 * (2 + 1)  # two units: 2 non-zero inputs and a bias each
    assert weight.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]  # pure: inputs untouched
    assert bias.tolist() == [0.0, 0.0, 0.5]


def test_golden_no_update_when_correct():
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x = torch.tensor([[2.0, 1.0]])
    d_weight, d_bias, mistakes, updates = perceptron_sequential(weight, torch.zeros(2), x, torch.tensor([0]))
    assert not d_weight.any() and not d_bias.any() and mistakes == 0 and updates == 0


def test_golden_sequence_and_running_average():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([1, 0])
    weight_sum = torch.zeros(2, 2, dtype=torch.float64)
    bias_sum = torch.zeros(2, dtype=torch.float64)
    d_weight, d_bias, mistakes, _ = perceptron_sequential(
        torch.zeros(2, 2), torch.zeros(2), x, targets, weight_sum=weight_sum, bias_sum=bias_sum
    )
    # sample 1: tie -> predicts 0, wrong; sample 2 sees the changed weights, predicts 1, wrong.
    assert mistakes == 2
    assert d_weight.tolist() == [[-1.0, 1.0], [1.0, -1.0]]
    assert d_bias.tolist() == [0.0, 0.0]
    assert weight_sum.tolist() == [[-2.0, 1.0], [2.0, -1.0]]
    assert bias_sum.tolist() == [-1.0, 1.0]


def _fit(model_name, task, batch_size, epochs, seed=0, **options):
    model = MODELS.get(model_name)(task.input_shape, task.n_classes, **options)
    config = TrainingConfig(epochs=epochs, batch_size=batch_size, n_checkpoints=4)
    result = Trainer(model, task, config, seed, torch.device("cpu")).fit()
    return model, result


@pytest.mark.parametrize("model_name", ["perceptron", "perceptron_averaged"])
def test_any_batch_size_equals_batch_size_one(model_name):
    task = TASKS.get("digits")()
    model_1, result_1 = _fit(model_name, task, batch_size=1, epochs=1)
    model_b, result_b = _fit(model_name, task, batch_size=64, epochs=1)
    for a, b in zip(model_1.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.allclose(a.double(), b.double(), atol=1e-4)
    assert result_1.final_test_accuracy == result_b.final_test_accuracy


def test_convergence_theorem_on_separable_data():
    task = TASKS.get("linear_separable")(n_samples=400, n_features=5, margin=0.05, seed=1)
    x, y = task.x_train, task.y_train
    weight, bias = torch.zeros(2, 5), torch.zeros(2)
    mistakes_per_epoch = []
    for _ in range(200):
        d_weight, d_bias, mistakes, _ = perceptron_sequential(weight, bias, x, y)
        weight, bias = weight + d_weight, bias + d_bias
        mistakes_per_epoch.append(mistakes)
        if mistakes == 0:
            break
    assert mistakes_per_epoch[-1] == 0, "the perceptron must stop making mistakes on separable data"
    # Novikoff: mistakes <= (R / gamma)^2 in the bias-augmented space.
    generator = torch.Generator().manual_seed(1)
    normal = torch.randn(5, generator=generator)
    normal = normal / normal.norm()
    separator = torch.cat([normal, -0.5 * normal.sum().reshape(1)])
    gamma = 0.05 / float(separator.norm())
    radius = float(torch.cat([x, torch.ones(len(x), 1)], dim=1).norm(dim=1).max())
    assert sum(mistakes_per_epoch) <= (radius / gamma) ** 2
    # Once an epoch is error-free the weights are a fixed point: another pass changes nothing.
    d_weight, d_bias, mistakes, _ = perceptron_sequential(weight, bias, x, y)
    assert mistakes == 0 and not d_weight.any() and not d_bias.any()


@pytest.mark.parametrize("seed", range(10))
def test_perceptron_never_exceeds_75_percent_on_xor(seed):
    task = TASKS.get("xor")()
    _, result = _fit("perceptron", task, batch_size=1, epochs=50, seed=seed)
    assert max(result.history.train_accuracy) <= 0.75


@pytest.mark.parametrize("n_bits", [3, 4])
def test_perceptron_parity_bound(n_bits):
    task = TASKS.get("parity")(n_bits=n_bits)
    bound = 0.5 + math.comb(n_bits - 1, (n_bits - 1) // 2) / 2**n_bits
    for seed in range(3):
        _, result = _fit("perceptron", task, batch_size=1, epochs=40, seed=seed)
        assert max(result.history.train_accuracy) <= bound + 1e-9


def test_rosenblatt_association_layer_is_fixed_signed_and_seeded():
    torch.manual_seed(0)
    model = MODELS.get("perceptron_rosenblatt")(
        (1, 8, 8), 10, n_association_units=7, n_excitatory=3, n_inhibitory=2
    )
    weight = model.association.weight
    assert weight.shape == (7, 64)
    assert weight.sum(dim=1).tolist() == [1.0] * 7  # 3 excitatory (+1) and 2 inhibitory (-1) each
    assert weight.abs().sum(dim=1).max() <= 5
    assert not any(p.requires_grad for p in model.association.parameters())
    x = torch.rand(4, 1, 8, 8)
    a = model.association(x.flatten(1))
    assert torch.equal(a, (x.flatten(1) @ weight.t() >= 1.0).float())


@pytest.mark.parametrize("seed", range(5))
def test_rosenblatt_with_enough_association_units_solves_xor(seed):
    task = TASKS.get("xor")()
    torch.manual_seed(seed)
    _, result = _fit(
        "perceptron_rosenblatt", task, batch_size=1, epochs=50, seed=seed, n_association_units=16
    )
    assert result.final_test_accuracy == 1.0
