"""The attack suite's completed seeds on disk, so that a killed study resumes where it stopped.

On a Fashion-MNIST comparison the suite takes hours (1000 images, every member and seed, the
Square Attack the costly part); a study that kept its results in memory until the end lost them
all to a kill. After each seed, :mod:`neurosim.analysis.attack_study` stores what that seed's
members gave (transfer included) as ``analyses/attack_suite/seed<k>.nc`` (atomically), and a rerun
takes a stored seed instead of attacking it again when its **key** matches: the budget, the
number of images, the members attacked and each member's fit identity
(:func:`neurosim.runner.fit_hash`). A changed budget, ``--stimuli``, member list or retrained fit
gives another key, and that seed is attacked again (and its file replaced).

Stored per seed (NetCDF, no code): ``correct (model, attack, strength_index, image)`` (1 correct,
0 broken, NaN where the attack does not apply), ``applied (model, attack)`` (whether the attack's
verdicts were recorded at all), ``single_precision (model, attack)`` (the verdicts' dtype was
float32: restored on reading, so that a resumed study's means are bitwise an uninterrupted
one's), ``steps_accuracy (model, steps)``, ``restarts_accuracy (model,
restarts)``, ``seconds (model, attack)``, ``stochastic (model)``; attributes ``key`` and, per
member, ``replaced__<m>`` and ``skipped__<m>`` (JSON). The white-box examples offered to the
partner are not stored: transfer is computed before the seed is stored, and nothing else needs them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis.attack_suite import ATTACKS, MemberAttacks, SuiteBudget
from neurosim.results.storage import UnreadableFile, open_dataset, save_dataset


def seed_path(run_dir: str | Path, seed: int) -> Path:
    """Where the suite's results of ``seed`` are kept."""
    return Path(run_dir) / "analyses" / "attack_suite" / f"seed{seed}.nc"


def seed_key(budget: SuiteBudget, n_images: int, fit_hashes: dict[str, str]) -> str:
    """What a stored seed must match to be reused (module docstring): JSON text."""
    fields = {"budget": dataclasses.asdict(budget), "n_images": n_images, "fits": fit_hashes}
    return json.dumps(fields, sort_keys=True)


def store_seed(path: Path, found: dict[str, MemberAttacks], key: str, budget: SuiteBudget) -> None:
    """Write one seed's results (``found``: member -> its attacks, transfer included) atomically."""
    names = list(found)
    n_eps = len(budget.epsilons)
    n_images = next(a.shape[1] for m in found.values() for a in m.correct.values())
    correct = np.full((len(names), len(ATTACKS), n_eps, n_images), np.nan)
    # 0, 1 and NaN are exact in either precision; the verdicts' own dtype is restored on reading,
    # so that the means taken of them are bitwise those of an uninterrupted study.
    applied = np.zeros((len(names), len(ATTACKS)), dtype=np.int8)
    single = np.zeros((len(names), len(ATTACKS)), dtype=np.int8)
    seconds = np.full((len(names), len(ATTACKS)), np.nan)
    for m, attacked in enumerate(found.values()):
        for a, attack in enumerate(ATTACKS):
            if attack in attacked.correct:
                verdicts = attacked.correct[attack]
                correct[m, a], applied[m, a] = verdicts, 1
                single[m, a] = verdicts.dtype == np.float32
            seconds[m, a] = attacked.seconds.get(attack, np.nan)
    dataset = xr.Dataset(
        {
            "correct": (("model", "attack", "strength_index", "image"), correct),
            "applied": (("model", "attack"), applied),
            "single_precision": (("model", "attack"), single),
            "steps_accuracy": (("model", "steps"), [a.steps_accuracy for a in found.values()]),
            "restarts_accuracy": (("model", "restarts"), [a.restarts_accuracy for a in found.values()]),
            "seconds": (("model", "attack"), seconds),
            "stochastic": (("model",), [int(a.stochastic) for a in found.values()]),
        },
        coords={"model": names, "attack": list(ATTACKS)},
        attrs={"key": key},
    )
    for name, attacked in found.items():
        dataset.attrs[f"replaced__{name}"] = json.dumps(attacked.replaced)
        dataset.attrs[f"skipped__{name}"] = json.dumps(attacked.skipped)
    save_dataset(path, dataset)


def stored_seed(path: Path, key: str) -> dict[str, MemberAttacks] | None:
    """A seed's stored results when its file exists, reads and matches ``key``; else ``None``
    (the seed is attacked again)."""
    if not path.is_file():
        return None
    try:
        dataset = open_dataset(path)
    except UnreadableFile:  # a torn or foreign file: attack the seed again, then replace it
        return None
    if dataset.attrs.get("key") != key:
        return None
    found = {}
    for m, name in enumerate(dataset.model.values.tolist()):
        correct = {
            attack: dataset.correct.values[m, a].astype(
                np.float32 if dataset.single_precision.values[m, a] else np.float64
            )
            for a, attack in enumerate(ATTACKS)
            if dataset.applied.values[m, a]
        }
        seconds = {
            attack: float(value)
            for attack, value in zip(ATTACKS, dataset.seconds.values[m], strict=True)
            if not np.isnan(value)
        }
        found[name] = MemberAttacks(
            correct=correct,
            adversarial=None,
            steps_accuracy=[float(v) for v in dataset.steps_accuracy.values[m]],
            restarts_accuracy=[float(v) for v in dataset.restarts_accuracy.values[m]],
            stochastic=bool(dataset.stochastic.values[m]),
            replaced=json.loads(dataset.attrs[f"replaced__{name}"]),
            seconds=seconds,
            skipped=json.loads(dataset.attrs[f"skipped__{name}"]),
        )
    return found
