"""The open trainer: a model with its own objective needs no trainer edit, observers see every
phase and step without changing what is learnt, and an unsupervised backprop phase resumes
exactly."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurosim.config import TrainingConfig
from neurosim.models.base import NeurosimModel, PlanStep, TrainingBatch, flat_size
from neurosim.tasks import TASKS
from neurosim.training import Trainer, TrainingCallback

CPU = torch.device("cpu")


class ReconstructingAutoencoder(NeurosimModel):
    """A test model the trainer has never heard of: a tanh encoder and a linear decoder learn to
    reconstruct unlabelled images by backprop (``||decode(encode(x)) - x||^2``, the unsupervised
    phase), then a linear readout learns the classes from the frozen code (the supervised phase).
    """

    def __init__(self, input_shape: tuple[int, ...], n_classes: int, code: int = 16) -> None:
        super().__init__()
        size = flat_size(input_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(size, code), nn.Tanh())
        self.decoder = nn.Linear(code, size)
        self.coder = nn.ModuleList([self.encoder, self.decoder])
        self.readout = nn.Linear(code, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.encoder(x))

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the reconstruction of ``x`` ``[B, ...]``."""
        return F.mse_loss(self.decoder(self.encoder(x)), x.flatten(1))

    def training_loss(self, batch: TrainingBatch) -> torch.Tensor:
        if batch.targets is None:  # the unsupervised phase: no labels, reconstruct the input
            return self.reconstruction_error(batch.inputs)
        return super().training_loss(batch)

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (
            PlanStep("coder", self.coder, "backprop", phase="unsupervised"),
            PlanStep("readout", self.readout, "backprop"),
        )

    def frozen_split(self):
        return self.encoder, self.readout

    def probe_points(self) -> dict[str, nn.Module]:
        return {"code": self.encoder, "readout": self.readout}

    def first_layer_weights(self) -> torch.Tensor:
        return self.encoder[1].weight.detach()


class Recorder(TrainingCallback):
    """Keeps every event, and the encoder's weights at the end of the unsupervised phase."""

    def __init__(self, model: NeurosimModel) -> None:
        self.model, self.events, self.steps = model, [], {}
        self.encoder_after_unsupervised = None

    def on_phase_start(self, phase):
        self.events.append(("start", phase))

    def on_phase_end(self, phase):
        self.events.append(("end", phase))
        if phase == "unsupervised":
            self.encoder_after_unsupervised = self.model.encoder[1].weight.detach().clone()

    def on_step(self, phase, done, total):
        self.steps.setdefault(phase, []).append((done, total))

    def on_checkpoint(self, step, history):
        assert history.step[-1] == step
        self.events.append(("checkpoint", step))

    def on_end(self, result):
        self.events.append(("end", result.final_test_accuracy))


def _autoencoder(task) -> ReconstructingAutoencoder:
    torch.manual_seed(0)
    return ReconstructingAutoencoder(task.input_shape, task.n_classes)


CONFIG = TrainingConfig(
    epochs=3, batch_size=32, lr=1e-2, unsupervised_epochs=3, n_checkpoints=3, train_eval_limit=200
)


def test_a_model_with_a_reconstruction_objective_trains_without_a_trainer_edit():
    task = TASKS.get("digits")()
    model = _autoencoder(task)
    with torch.no_grad():
        before = float(model.reconstruction_error(task.x_test))
    recorder = Recorder(model)
    result = Trainer(model, task, CONFIG, 0, CPU).fit(callbacks=[recorder])
    with torch.no_grad():
        after = float(model.reconstruction_error(task.x_test))
    # The unsupervised phase learnt to reconstruct (the untrained decoder's error is ~4x this).
    assert after < 0.5 * before, (before, after)
    # The supervised phase trained only the readout: the encoder is the one the phase left.
    assert torch.equal(model.encoder[1].weight, recorder.encoder_after_unsupervised)
    # A readout on a 16-unit learnt code classifies the digits far above chance (0.1).
    assert result.final_test_accuracy > 0.6
    assert result.loss_kind == "cross_entropy"


def test_observers_see_every_phase_step_and_checkpoint_and_change_nothing():
    task = TASKS.get("digits")()
    observed, plain = _autoencoder(task), _autoencoder(task)
    recorder = Recorder(observed)
    result = Trainer(observed, task, CONFIG, 0, CPU).fit(callbacks=[recorder])
    expected = Trainer(plain, task, CONFIG, 0, CPU).fit()
    assert all(
        torch.equal(a, b)
        for a, b in zip(observed.state_dict().values(), plain.state_dict().values(), strict=True)
    )
    assert result.history.test_accuracy == expected.history.test_accuracy
    per_pass = math.ceil(len(task.y_train) / 32)
    unsupervised, supervised = recorder.steps["unsupervised"], recorder.steps["supervised"]
    assert unsupervised == [(i, 3 * per_pass) for i in range(1, 3 * per_pass + 1)]
    assert supervised == [(i, 3 * per_pass) for i in range(1, 3 * per_pass + 1)]
    checkpoints = [("checkpoint", step) for step in result.history.step]
    assert recorder.events == [
        ("start", "unsupervised"),
        ("end", "unsupervised"),
        ("start", "supervised"),
        *checkpoints,
        ("end", "supervised"),
        ("end", result.final_test_accuracy),
    ]


def test_an_unsupervised_backprop_phase_resumes_exactly(tmp_path):
    """The checkpoint after a pass keeps the autoencoder's Adam state: a fit killed in the third
    pass and resumed ends with the weights of an uninterrupted one."""
    task = TASKS.get("digits")()
    reference = _autoencoder(task)
    expected = Trainer(reference, task, CONFIG, 0, CPU).fit()
    per_pass = math.ceil(len(task.y_train) / 32)

    class Interrupt(Exception):
        pass

    def stop_in_the_third_pass(done, total):
        if done == 2 * per_pass + 3:
            raise Interrupt

    checkpoint = tmp_path / "fit.ckpt.pt"
    with pytest.raises(Interrupt):
        Trainer(_autoencoder(task), task, CONFIG, 0, CPU).fit(checkpoint, progress=stop_in_the_third_pass)
    resumed_model = _autoencoder(task)
    resumed = Trainer(resumed_model, task, CONFIG, 0, CPU).fit(checkpoint)
    for name, value in reference.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], value), name
    assert resumed.history.test_accuracy == expected.history.test_accuracy


def test_an_unlabelled_backprop_step_without_its_own_objective_is_refused():
    """The default objective needs labels: a model that trains a group by backprop in the
    unsupervised phase must say what it minimises there."""

    class Forgetful(ReconstructingAutoencoder):
        def training_loss(self, batch):
            return NeurosimModel.training_loss(self, batch)

    task = TASKS.get("digits")()
    torch.manual_seed(0)
    model = Forgetful(task.input_shape, task.n_classes)
    with pytest.raises(TypeError, match="trains coder by backprop without labels"):
        Trainer(model, task, CONFIG, 0, CPU).fit()


def test_the_training_ledger_counts_an_unsupervised_backprop_phase_by_hand():
    """The ledger observes the trainer's own steps, so a phase it has never seen is counted:
    64 images in 2 steps of 32, Adam (8 MAC-equivalents per value) moving every weight and bias
    of the encoder (64 x 16 + 16 values) and the decoder (16 x 64 + 64) at each step."""
    from neurosim.metrics.training import training_ledger

    task = TASKS.get("digits")()
    ledgers, presented = training_ledger(_autoencoder(task), task, CONFIG, seed=0, n_samples=64)
    unsupervised = ledgers["unsupervised"].per_layer
    assert ledgers["unsupervised"].samples == 64
    assert presented["unsupervised"] == 3 * len(task.y_train)
    assert unsupervised["encoder.1"]["weight_updates"] == (64 * 16 + 16) * 2 / 64
    assert unsupervised["decoder"]["weight_updates"] == (16 * 64 + 64) * 2 / 64
    assert unsupervised["decoder"]["optimizer_macs"] == 8 * (16 * 64 + 64) * 2 / 64
    # The readout learns only in the supervised phase, on the cached code.
    assert "readout" not in unsupervised
    assert set(ledgers["supervised"].per_layer) == {"readout"}


def test_a_layer_without_what_its_rule_needs_is_refused_before_training():
    """Rules declare the layer they train (neurosim.rules.layers); a perceptron rule bound to a
    linear layer without a bias fails in one line, when the trainer is built."""

    class BiaslessPerceptron(ReconstructingAutoencoder):
        def __init__(self, input_shape, n_classes):
            super().__init__(input_shape, n_classes)
            self.readout = nn.Linear(16, n_classes, bias=False)

        def learning_plan(self):
            return (PlanStep("readout", self.readout, "perceptron"),)

    task = TASKS.get("digits")()
    model = BiaslessPerceptron(task.input_shape, task.n_classes)
    message = "rule 'perceptron' trains perceptron units, but group 'readout' is a Linear without bias"
    with pytest.raises(TypeError, match=message):
        Trainer(model, task, CONFIG, 0, CPU)


def test_pretraining_then_fine_tuning_the_same_layer_is_refused_not_silently_skipped():
    """The unsupervised phase freezes what it trains; a plan that would also fine-tune the
    encoder in the supervised phase is refused when the trainer is built."""

    class FineTuned(ReconstructingAutoencoder):
        def learning_plan(self):
            both = nn.ModuleList([self.encoder, self.readout])
            return (
                PlanStep("coder", self.coder, "backprop", phase="unsupervised"),
                PlanStep("fine_tune", both, "backprop"),
            )

    task = TASKS.get("digits")()
    model = FineTuned(task.input_shape, task.n_classes)
    with pytest.raises(TypeError, match="plan steps 'coder' and 'fine_tune' share parameters"):
        Trainer(model, task, CONFIG, 0, CPU)


def test_an_unsupervised_backprop_step_computes_no_gradient_outside_its_layers():
    """An objective that also runs the readout gives the readout no ``.grad``: the step trains its
    own parameters and nothing else pays for a backward pass."""

    class Peeking(ReconstructingAutoencoder):
        def training_loss(self, batch):
            if batch.targets is None:
                return self.reconstruction_error(batch.inputs) + 0.0 * self(batch.inputs).sum()
            return super().training_loss(batch)

    task = TASKS.get("digits")()
    torch.manual_seed(0)
    model = Peeking(task.input_shape, task.n_classes)
    trainer = Trainer(model, task, CONFIG, 0, CPU)
    trainer.unsupervised.step(0, task.x_train[:32], 0.0, TrainingCallback())
    assert model.readout.weight.grad is None and model.readout.weight.requires_grad
    assert model.decoder.weight.grad is not None and not model.decoder.weight.requires_grad
