"""Representation analysis of a stored run: how each bio model's layers relate to its twin's, and
how sparse and high-dimensional each layer's code is. Runs on the trained models stored with the
fits (``fits/<member>/seed<k>.model.pt``), so it never retrains, and gives the same numbers whether
it runs right after training (``neurosim run --analyses representations``) or later
(``neurosim analyse RUN_DIR``).

Stimuli: the first ``n_stimuli`` test images of the run's task (the same for every model, seed and
call). Activity: :func:`neurosim.analysis.activity.record_activity` at every probe point (layer
outputs; spike counts for spiking layers).

Stored as ``analyses/representations.nc`` (written atomically), one xarray Dataset:

* ``cka__<bio>__<twin>``: dims ``(kind, seed, layer__<bio>, layer__<twin>)``, ``kind`` in
  ``linear`` / ``debiased`` (:mod:`neurosim.analysis.cka`): the layer x layer similarity map.
* ``rsa__<bio>__<twin>``: dims ``(statistic, seed, layer__<bio>, layer__<twin>)``, ``statistic``
  in ``estimate`` / ``low`` / ``high``: the Pearson correlation of the two layers' RDMs and its 95 %
  bootstrap interval over conditions (:mod:`neurosim.analysis.rdm`, through rsatoolbox).
* ``rdm__<member>``: dims ``(seed, layer__<member>, condition_pair)``: each layer's RDM (correlation
  distance, upper triangle, row-major) over the conditions ``rdm_conditions`` (indices into the
  stimuli, :data:`~neurosim.analysis.rdm.PER_CLASS` per class, in class order).
* ``code__<member>``: dims ``(measure, seed, layer__<member>)`` with the measures of
  :data:`MEASURES` (:mod:`neurosim.analysis.sparseness`). "Active" means an output above 0; for a
  probe point that records a pre-activation (``nn.Linear`` before a ReLU or a rectified power),
  that is exactly "active after the rectification". The Vinje-Gallant sparseness is taken of the
  rectified output ``max(a, 0)``. A softmax layer's outputs are all positive, so every unit counts
  as active there.

Attributes: ``n_stimuli``, ``stimuli``, the run's resolved ``config`` and the provenance of the
analysis (code version, machine, time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.activity import cka_maps, record_activity
from neurosim.analysis.cka import KINDS
from neurosim.analysis.rdm import N_BOOTSTRAP, PER_CLASS, condition_indices, layer_rdms, rdm_similarity
from neurosim.analysis.sparseness import fraction_active, participation_ratio, vinje_gallant_sparseness
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.run_loading import load_fitted_model

MEASURES = (
    "fraction_active_population",  # its mean over stimuli equals the lifetime one's over units
    "sparseness_population",
    "sparseness_lifetime",
    "participation_ratio",
)


def _code_measures(activity) -> list[float]:
    active = fraction_active(activity)
    sparseness = vinje_gallant_sparseness(activity.clamp_min(0.0))
    return [
        active["population"],
        sparseness["population"],
        sparseness["lifetime"],
        participation_ratio(activity),
    ]


def analyse_representations(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Compute the representation analysis of a finished run and store it; returns the Dataset."""
    config, task = load_run(run_dir)
    stimuli = task.x_test[:n_stimuli]
    conditions = condition_indices(task.y_test[:n_stimuli])
    seeds = list(config.seeds)
    codes: dict[str, list] = {member.name: [] for member in config.members}  # per seed: [layer, measure]
    maps: dict[tuple[str, str], list] = {}  # per seed: [kind, layer_bio, layer_twin]
    rsa: dict[tuple[str, str], list] = {}  # per seed: [statistic, layer_bio, layer_twin]
    rdms: dict[str, list] = {member.name: [] for member in config.members}  # per seed: [layer, pair]
    layers: dict[str, list[str]] = {}
    twins = [(bio, twin) for bio, *others in config.pair_members().values() for twin in others]
    for seed in seeds:  # one seed's activity in memory at a time (wide conv layers are large)
        activity = {
            member.name: record_activity(load_fitted_model(run_dir, member, task, seed), stimuli)
            for member in config.members
        }
        seed_rdms = {}
        for name, recorded in activity.items():
            layers[name] = list(recorded)
            codes[name].append([_code_measures(a) for a in recorded.values()])
            seed_rdms[name] = layer_rdms(recorded, conditions)
            rdms[name].append(seed_rdms[name].get_vectors())
        for bio, twin in twins:
            maps.setdefault((bio, twin), []).append(
                [similarity.values for similarity in cka_maps(activity[bio], activity[twin], KINDS)]
            )
            rsa.setdefault((bio, twin), []).append(rdm_similarity(seed_rdms[bio], seed_rdms[twin], seed=seed))
    variables = {}
    for name, per_seed in codes.items():
        variables[f"code__{name}"] = xr.DataArray(
            np.array(per_seed).transpose(2, 0, 1),  # [seed, layer, measure] -> [measure, seed, layer]
            dims=("measure", "seed", f"layer__{name}"),
            coords={"measure": list(MEASURES), "seed": seeds, f"layer__{name}": layers[name]},
        )
    for (bio, twin), per_seed in maps.items():
        variables[f"cka__{bio}__{twin}"] = xr.DataArray(
            np.array(per_seed).transpose(1, 0, 2, 3),  # [seed, kind, ...] -> [kind, seed, ...]
            dims=("kind", "seed", f"layer__{bio}", f"layer__{twin}"),
            coords={
                "kind": list(KINDS),
                "seed": seeds,
                f"layer__{bio}": layers[bio],
                f"layer__{twin}": layers[twin],
            },
        )
    for (bio, twin), per_seed in rsa.items():
        variables[f"rsa__{bio}__{twin}"] = xr.DataArray(
            np.array(per_seed).transpose(1, 0, 2, 3),  # [seed, statistic, ...] -> [statistic, seed, ...]
            dims=("statistic", "seed", f"layer__{bio}", f"layer__{twin}"),
            coords={
                "statistic": ["estimate", "low", "high"],
                "seed": seeds,
                f"layer__{bio}": layers[bio],
                f"layer__{twin}": layers[twin],
            },
        )
    for name, per_seed in rdms.items():
        variables[f"rdm__{name}"] = xr.DataArray(
            np.array(per_seed),
            dims=("seed", f"layer__{name}", "condition_pair"),
            coords={"seed": seeds, f"layer__{name}": layers[name]},
        )
    attrs = analysis_attrs("representations", len(stimuli), task, config)
    attrs["rdm_conditions"] = conditions.tolist()
    attrs["rdm"] = (
        f"correlation distance over {len(conditions)} stimuli ({PER_CLASS} per class); RDMs compared by "
        f"Pearson correlation with a {N_BOOTSTRAP}-sample bootstrap over stimuli (rsatoolbox)"
    )
    return save_analysis(run_dir, "representations", xr.Dataset(variables, attrs=attrs))


def stored_representations(run_dir: str | Path) -> xr.Dataset | None:
    """The stored analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "representations")
