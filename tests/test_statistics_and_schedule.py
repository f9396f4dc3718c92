import math

import numpy as np
import pytest
from scipy import stats

from neurosim.analysis.statistics import mean_ci, paired_test, t_half_width
from neurosim.training.schedule import checkpoint_steps, samples_seen


def test_mean_ci_matches_t_interval():
    summary = mean_ci([0.90, 0.92, 0.94])
    half = stats.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert summary.mean == pytest.approx(0.92)
    assert summary.low == pytest.approx(0.92 - half) and summary.high == pytest.approx(0.92 + half)
    assert math.isnan(mean_ci([0.5]).low) and mean_ci([0.5]).mean == 0.5


def test_paired_test_sign_effect_and_degenerate_cases():
    test = paired_test([0.8, 0.82, 0.85], [0.9, 0.91, 0.93])
    assert test.mean_difference == pytest.approx(-0.09)
    assert 0 < test.p_value < 0.01 and test.effect_size < 0
    assert math.isnan(paired_test([0.5, 0.6], [0.4, 0.5]).p_value)  # identical differences


def test_t_half_width_by_hand():
    # n = 2: t(0.975, 1) = 12.7062; columns [0, 2] and [1, 5] have s = sqrt(2) and 2 sqrt(2).
    half = t_half_width(np.array([[0.0, 1.0], [2.0, 5.0]]), axis=0)
    assert half == pytest.approx([12.7062, 2 * 12.7062], rel=1e-5)
    assert t_half_width(np.array([[0.0, 2.0]]), axis=1) == pytest.approx([12.7062], rel=1e-5)


def test_checkpoints_are_log_spaced_and_include_epoch_ends():
    steps = checkpoint_steps(n_samples=1000, batch_size=10, epochs=3, n_log=10)
    # 300 steps: 10 points 300^(k/9) rounded (1, 1.88, 3.55, 6.69, 12.6, 23.8, 44.8, 84.5, 159.2,
    # 300), with the epoch ends 100 and 200.
    assert steps == [1, 2, 4, 7, 13, 24, 45, 84, 100, 159, 200, 300]
    log_points = np.array([s for s in steps if s not in (100, 200)], dtype=float)
    ratios = log_points[1:] / log_points[:-1]
    assert np.allclose(np.log(log_points[3:]), np.log(300) * np.arange(3, 10) / 9, atol=0.08)
    assert ratios.min() > 1.5 and ratios.max() < 2.1  # one ratio 300^(1/9) = 1.885, up to rounding


def test_many_epochs_get_log_spaced_epoch_ends():
    # 10 images per class x 10 classes trained for 60k samples: 600 one-step epochs.
    steps = checkpoint_steps(n_samples=100, batch_size=100, epochs=600, n_log=12)
    assert steps[0] == 1 and steps[-1] == 600
    assert len(steps) <= 3 * 12
    # Up to 2 * n_log epochs, every epoch end is still a checkpoint.
    assert set(range(10, 250, 10)) <= set(checkpoint_steps(100, 10, 24, 12))


def test_samples_seen_counts_short_last_batches():
    assert samples_seen(1, n_samples=10, batch_size=4) == 4
    assert samples_seen(3, n_samples=10, batch_size=4) == 10
    assert samples_seen(4, n_samples=10, batch_size=4) == 14


def test_cosine_schedule_is_a_pure_function_of_the_step():
    from neurosim.config import TrainingConfig
    from neurosim.training.schedule import scheduled_lr

    cosine = TrainingConfig(lr=0.1, lr_schedule="cosine")
    assert scheduled_lr(cosine, 0, 100) == pytest.approx(0.1)
    assert scheduled_lr(cosine, 50, 100) == pytest.approx(0.05)
    assert scheduled_lr(cosine, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert scheduled_lr(TrainingConfig(lr=0.1), 50, 100) == 0.1


def test_min_samples_seen_extends_training_of_small_subsets():
    import torch

    from neurosim.config import TrainingConfig
    from neurosim.models import MODELS
    from neurosim.tasks import TASKS
    from neurosim.training import Trainer

    task = TASKS.get("digits")()
    model = MODELS.get("linear")(task.input_shape, task.n_classes)
    config = TrainingConfig(epochs=1, batch_size=10, min_samples_seen=95, n_checkpoints=2)
    result = Trainer(model, task, config, 0, torch.device("cpu"), n_per_class=2).fit()
    assert result.history.samples_seen[-1] == 100  # 20 labelled samples, 5 epochs
    assert result.history.epoch[-1] == 5
