"""The attack suite resumes after a kill: completed seeds are stored and reused, and only when
their budget, images, members and fits match (:mod:`neurosim.analysis.attack_checkpoints`)."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from neurosim.analysis import attack_study
from neurosim.analysis.attack_checkpoints import seed_path
from neurosim.analysis.attack_suite import SuiteBudget
from neurosim.extras import missing

pytestmark = pytest.mark.skipif(missing("attacks") is not None, reason="needs the attacks extra")

TINY = SuiteBudget(epsilons=(0.0, 0.1, 0.5), steps=3, restarts=1, queries=10, check_eps=0.1, check_steps=(2,))


@pytest.fixture
def attacked_seeds(monkeypatch):
    """The seeds :func:`attack_study.attack_seed` attacks, in order; ``kill_at`` makes the k-th call
    raise, as a killed study would stop."""
    seeds: list[int] = []
    kill_at: list[int] = []
    attack = attack_study.attack_seed

    def recording(run_dir, members, seed, x, y, budget):
        seeds.append(seed)
        if len(seeds) in kill_at:
            raise KeyboardInterrupt("killed")
        return attack(run_dir, members, seed, x, y, budget)

    monkeypatch.setattr(attack_study, "attack_seed", recording)
    return seeds, kill_at


@pytest.mark.slow  # ~15 s: the suite five times on two models and two seeds
def test_a_killed_suite_resumes_from_its_stored_seeds_and_gives_the_same_result(
    stored_perceptron_run, tmp_path, attacked_seeds
):
    seeds, kill_at = attacked_seeds
    whole = shutil.copytree(stored_perceptron_run, tmp_path / "whole")
    expected = attack_study.analyse_attack_suite(whole, n_stimuli=20, budget=TINY)
    assert seeds == [0, 1]

    run = shutil.copytree(stored_perceptron_run, tmp_path / "killed")
    seeds.clear()
    kill_at.append(2)  # seed 1 is killed: seed 0 is stored, no study result yet
    with pytest.raises(KeyboardInterrupt):
        attack_study.analyse_attack_suite(run, n_stimuli=20, budget=TINY)
    assert seed_path(run, 0).is_file() and not seed_path(run, 1).exists()
    assert not (run / "analyses" / "attack_suite.nc").exists()

    seeds.clear()
    kill_at.clear()
    resumed = attack_study.analyse_attack_suite(run, n_stimuli=20, budget=TINY)
    assert seeds == [1]  # only the seed that was not stored
    for name in (
        "accuracy",
        "check_passed",
        "check_value",
        "steps_accuracy",
        "restarts_accuracy",
        "stochastic",
    ):
        np.testing.assert_array_equal(resumed[name].values, expected[name].values, err_msg=name)
    assert resumed.attrs["bpda__perceptron"] == expected.attrs["bpda__perceptron"]

    seeds.clear()
    attack_study.analyse_attack_suite(run, n_stimuli=20, budget=TINY)
    assert seeds == []  # everything stored
    attack_study.analyse_attack_suite(run, n_stimuli=16, budget=TINY)
    assert seeds == [0, 1]  # other images: another key, every seed attacked again
    seeds.clear()
    attack_study.analyse_attack_suite(run, n_stimuli=16, budget=dataclasses.replace(TINY, queries=12))
    assert seeds == [0, 1]  # another budget


def test_a_torn_seed_file_is_attacked_again(stored_perceptron_run, tmp_path, attacked_seeds):
    seeds, _ = attacked_seeds
    run = shutil.copytree(stored_perceptron_run, tmp_path / "run")
    path = seed_path(run, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not netcdf")
    attack_study.analyse_attack_suite(run, n_stimuli=8, budget=TINY)
    assert seeds == [0, 1] and path.stat().st_size > len(b"not netcdf")


def test_a_second_process_can_take_a_share_of_the_seeds(stored_perceptron_run, tmp_path, attacked_seeds):
    """``attack_seeds`` stores only the seeds it is given and writes no study result; the study
    then attacks only the others. A seed the run does not have is a one-line error."""
    from neurosim.errors import UserError

    seeds, _ = attacked_seeds
    run = shutil.copytree(stored_perceptron_run, tmp_path / "run")
    attack_study.attack_seeds(run, [1], n_stimuli=8, budget=TINY)
    assert seeds == [1] and seed_path(run, 1).is_file() and not seed_path(run, 0).exists()
    assert not (run / "analyses" / "attack_suite.nc").exists()
    seeds.clear()
    attack_study.analyse_attack_suite(run, n_stimuli=8, budget=TINY)
    assert seeds == [0] and (run / "analyses" / "attack_suite.nc").is_file()
    with pytest.raises(UserError, match=r"seeds \[7\] are not seeds of the run"):
        attack_study.attack_seeds(run, [7], budget=TINY)
