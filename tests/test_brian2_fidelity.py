"""neurosim's Diehl & Cook network against a literal Brian2 port of the released training loop.

The port (``neurosim/reference/brian2_released_protocol.py``) has the released script's input
delays, forward Euler, weight normalisation and re-presentation; neurosim's ``exact`` mode has the
``paper`` preset. They draw different random numbers, so they are compared in distribution
(``neurosim/reference/fidelity.py``); ``benchmarks/stdp_fidelity.py`` runs the full check (300
images, 3 seeds, table in ``docs/repro.md``).
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosim.errors import UserError
from neurosim.reference.fidelity import TOLERANCE, compare, initial_weights, run_neurosim
from neurosim.tasks import TASKS

pytest.importorskip("brian2")  # the reference extra
released = pytest.importorskip("neurosim.reference.brian2_released_protocol")

IMAGES = 300  # one seed (the benchmark: the same 300 images x 3 seeds)


def _run(counts: list[list[int]], theta: list[float], presentations: list[int]):
    counts_array = np.array(counts)
    return released.ReleasedRun(counts_array, np.array(presentations), np.array(theta), np.zeros((1, 1)))


def test_compare_reads_the_statistics_it_names():
    a = _run([[4, 0], [6, 0]], [20.1, 20.3], [1, 1])  # 4 and 6 spikes per image; theta +0.2 mean
    b = _run([[2, 2], [3, 3]], [20.1, 20.1], [1, 2])  # 4 and 6 too; theta +0.1; one re-presentation
    fidelity = compare([a], [b])
    assert fidelity.summary["spikes per image, mean"] == (5.0, 5.0)
    assert fidelity.difference["spikes_relative"] == 0.0
    assert fidelity.difference["spikes_ks"] == 0.0
    assert fidelity.difference["theta_relative"] == pytest.approx(0.1 / 0.15)  # |0.2 - 0.1| / 0.15
    assert fidelity.difference["theta_ks"] == pytest.approx(0.5)  # 20.3 lies above all of b's
    assert fidelity.difference["representations"] == pytest.approx(0.5)
    assert fidelity.difference["winners"] == pytest.approx(0.5)  # 1 of 2 neurons fired vs. 2 of 2
    assert not fidelity.agrees
    assert compare([a], [a]).agrees
    assert set(fidelity.difference) == set(TOLERANCE)


@pytest.mark.slow
def test_the_port_normalises_before_every_presentation_and_re_presents_a_blank_image():
    """A blank image never evokes a spike: the loop shows it again, brighter, up to the guard; the
    weights, normalised before each presentation and untouched by STDP without input spikes, sum
    to 78 per neuron."""
    weight = np.random.default_rng(0).uniform(0.0, 0.3, (16, 3))
    blank = np.zeros((1, 16))
    run = released.run_released_protocol(blank, weight, seed=0, target="numpy", max_presentations=3)
    assert run.presentations.tolist() == [3]
    assert run.counts.sum() == 0
    np.testing.assert_allclose(run.weight.sum(axis=0), 78.0)
    # theta decays (tau 1e7 ms) from 20 mV over 3 x 500 ms without a spike
    np.testing.assert_allclose(run.theta, 20.0 * np.exp(-1500.0 / 1e7), rtol=1e-6)


def _mnist_images(count: int) -> np.ndarray:
    try:
        task = TASKS.get("mnist_10k")()
    except UserError:
        pytest.skip("the MNIST 10k subset is not present")
    return task.x_train[:count].reshape(count, -1).double().numpy()


@pytest.mark.slow
@pytest.mark.data
def test_exact_mode_agrees_with_the_released_protocol_and_a_wrong_threshold_does_not():
    images = _mnist_images(IMAGES)
    weight = initial_weights(784, 100, seed=0)
    port = [released.run_released_protocol(images, weight, seed=0)]
    fidelity = compare(port, [run_neurosim(images, weight, seed=0)])
    assert fidelity.agrees, fidelity.difference
    # The check can fail: thresholds from 0 without the 20 mV offset (neurosim before fit version 3).
    wrong = compare(port, [run_neurosim(images, weight, seed=0, theta_start=0.0, theta_offset=0.0)])
    assert not wrong.agrees
