"""FGSM and PGD (L-infinity): budget and bounds respected, eps = 0 is harmless, and PGD breaks a
plain MLP (the sanity check that the attack works)."""

import pytest
import torch

from neurosim.analysis.attacks import accuracy_under_attack, fgsm, pgd_linf
from neurosim.config import TrainingConfig
from neurosim.evaluation import accuracy
from neurosim.models import MODELS
from neurosim.tasks import TASKS
from neurosim.training import Trainer

# Training the module's MLP takes seconds; the robustness analysis (tests/test_robustness.py) runs
# FGSM and PGD in the fast suite.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_mlp():
    task = TASKS.get("digits")()
    torch.manual_seed(0)
    model = MODELS.get("mlp")(task.input_shape, task.n_classes, hidden_sizes=[64])
    Trainer(model, task, TrainingConfig(epochs=15, batch_size=32, lr=0.003), 0, torch.device("cpu")).fit()
    return model, task


def test_adversarial_images_stay_in_the_budget_and_the_pixel_range(trained_mlp):
    model, task = trained_mlp
    x, y = task.x_test[:100], task.y_test[:100]
    for adversarial in (fgsm(model, x, y, 0.1), pgd_linf(model, x, y, 0.1, steps=10, restarts=2)):
        assert (adversarial - x).abs().max() <= 0.1 + 1e-6
        assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
        assert not torch.equal(adversarial, x)


def test_zero_budget_leaves_the_accuracy_unchanged(trained_mlp):
    model, task = trained_mlp
    clean = accuracy(model, task.x_test, task.y_test)
    assert clean > 0.9
    for attack in ("fgsm", "pgd"):
        assert accuracy_under_attack(model, task.x_test, task.y_test, 0.0, attack) == pytest.approx(clean)


def test_pgd_drives_a_plain_mlp_below_chance_and_beats_fgsm(trained_mlp):
    """Digits have only 64 coarse pixels, so the budget that breaks the MLP is larger than on
    28x28 images: measured 0.80 / 0.50 / 0.10 / 0.01 at eps = 0.05 / 0.1 / 0.15 / 0.2."""
    model, task = trained_mlp
    model.train()
    pgd = accuracy_under_attack(model, task.x_test, task.y_test, 0.2, "pgd", restarts=2)
    fgsm_accuracy = accuracy_under_attack(model, task.x_test, task.y_test, 0.2, "fgsm")
    assert pgd < 0.05
    assert pgd < fgsm_accuracy < 0.5
    assert model.training  # the caller's mode is restored


def test_unknown_attack_names_the_choices(trained_mlp):
    model, task = trained_mlp
    with pytest.raises(ValueError, match="valid choices: fgsm, pgd"):
        accuracy_under_attack(model, task.x_test[:4], task.y_test[:4], 0.1, "cw")
