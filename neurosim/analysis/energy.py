"""Energy analysis of a stored run: estimated energy per inference under every hardware profile,
and measured joules where the machine has a readable counter. The two are never mixed.

**Estimates.** Each member and seed's stored model is run on the first ``n_stimuli`` test images
under :func:`neurosim.metrics.ledger` (exact operation and memory-event counts per layer,
per image), and the ledger is priced by every profile in :mod:`neurosim.energy.profiles`
(:func:`neurosim.energy.pricing.price`). Nothing is retrained, and the ledger is kept, so a new
profile prices the same counts.

**Measurements.** With a counter (:func:`neurosim.energy.measurement.available_counter`: NVML on a
CUDA GPU, else RAPL), the first seed of each member is timed on the same images at the batch
sizes :data:`MEASURED_BATCHES` under the protocol of :func:`~neurosim.energy.measurement.measure_energy`
(warm-up, idle baseline, windows >= 2 s, 5 repeats): total and dynamic joules per image. Without
one, the measured variables are NaN and the attribute ``measured`` says why.

**Training.** The same pricing applies to each member's training ledger
(:func:`neurosim.metrics.training.training_ledger`: forward and backward passes, plasticity and
optimiser updates, per presented training sample and phase), measured at both ends of the fit: on
the model the fit started from (rebuilt from its seed) and on the stored, trained one. A fit's
training energy is estimated as ``sum_phase samples(phase) x mean_stage E(stage, phase)``.

Stored as ``analyses/energy.nc``:

* ``events (model, seed, term)``: events per image summed over layers (memory terms included);
* ``energy (model, seed, profile, term)``: pJ per image; NaN where the profile leaves the term
  unpriced (or, for memory terms, does not model memory);
* ``training_events (model, seed, stage, phase, term)``: events per presented training sample
  (0 for a phase the model does not have);
* ``training_energy (model, seed, stage, phase, profile, term)``: pJ per presented training sample;
* ``training_samples (model, seed, phase)``: samples the fit presented in each phase;
* ``measured_total``, ``measured_dynamic`` and their ``_sd`` ``(model, batch)``: J per image;
* ``sensitivity (model, seed, assumption)`` and ``training_sensitivity``: pJ per image and per fit
  under each assumption of :mod:`neurosim.analysis.energy_sensitivity`;
* ``protocol_energy (model, seed, window, profile, term)``: pJ per image of each window of a
  simulated protocol (Diehl & Cook; NaN for other models) and ``presentations (model, seed)``;
* ``neuron_events (model, seed, neuron_term)``: the neuron counts behind the neuron term (counted
  conductance arithmetic, active neuron-steps, protocol neuron-steps);
* attributes ``profile__<id>`` (title, precision, evidence and notes of each profile).

Registered as :data:`ANALYSIS`, with its report section in :mod:`neurosim.analysis.energy_section`
(a second file: the section is as long as the computation). Stored models, the operation counter
and the training ledgers (``neurosim.run_loading``, ``neurosim.metrics``) are imported inside the
compute function only (:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.energy_protocol import presentations_per_image, protocol_energy
from neurosim.analysis.energy_section import energy_section
from neurosim.analysis.energy_sensitivity import ASSUMPTIONS, price_assumptions
from neurosim.analysis.energy_summary import energy_summary
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.study import Analysis
from neurosim.energy.measurement import available_counter, measure_energy
from neurosim.energy.pricing import TERMS, model_events, price
from neurosim.energy.profiles import EVIDENCE, hardware_profiles
from neurosim.energy.protocol import WINDOWS

if TYPE_CHECKING:
    from neurosim.config import ComparisonConfig, MemberConfig
    from neurosim.models.base import NeurosimModel
    from neurosim.tasks import Task

MEASURED_BATCHES = (1, 32, 1024)
#: Where in the fit the training ledger is measured: the model it started from, the trained one.
STAGES = ("start", "end")


def _measure(model: NeurosimModel, x: torch.Tensor, counter) -> np.ndarray:
    """``[batch, 4]``: total, total sd, dynamic, dynamic sd (J per image) per measured batch size."""
    device = torch.device("cuda") if counter.name == "nvml" else torch.device("cpu")
    model = model.to(device)
    rows = []
    for batch in MEASURED_BATCHES:
        inputs = x[: min(batch, len(x))].to(device)  # pre-loaded: data loading is not measured

        def region(model: NeurosimModel = model, inputs: torch.Tensor = inputs) -> None:
            with torch.no_grad():
                model(inputs)

        result = measure_energy(region, counter)
        n = len(inputs)
        rows.append(
            [result.total_j / n, result.total_sd_j / n, result.dynamic_j / n, result.dynamic_sd_j / n]
        )
    model.cpu()
    return np.array(rows)


def _events_and_energy(
    per_layer: dict[str, dict[str, float]], kinds: dict[str, str], profiles: dict
) -> tuple[np.ndarray, np.ndarray]:
    """A ledger's events ``[term]`` and its energy under every profile ``[profile, term]`` (pJ)."""
    counted = model_events(per_layer, kinds)
    priced = [price(per_layer, kinds, profile).by_term for profile in profiles.values()]
    return np.array([counted[t] for t in TERMS]), np.array([[row[t] for t in TERMS] for row in priced])


def _training_energy(
    config: ComparisonConfig,
    member: MemberConfig,
    task: Task,
    seed: int,
    model: NeurosimModel,
    profiles: dict,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One fit's training ledgers, priced: samples presented per phase ``[phase]``, and events
    ``[stage, phase, term]`` and energy ``[stage, phase, profile, term]`` (pJ) per presented sample,
    at both ends of the fit (:data:`STAGES`: the model rebuilt from its seed, the stored ``model``),
    and pJ per fit under each assumption of the sensitivity table ``[assumption]``."""
    from neurosim.metrics.training import PHASES, training_ledger
    from neurosim.run_loading import build_model

    samples = np.zeros(len(PHASES), dtype=np.int64)
    events = np.zeros((len(STAGES), len(PHASES), len(TERMS)))
    energy = np.zeros((len(STAGES), len(PHASES), len(profiles), len(TERMS)))
    variants = np.zeros((len(STAGES), len(PHASES), len(ASSUMPTIONS)))
    for g, trained in enumerate((build_model(member, task, seed), model)):
        ledgers, presented = training_ledger(
            trained, task, member.training, seed, config.task.n_per_class, config.task.subset_seed
        )
        for phase, phase_ledger in ledgers.items():
            f = PHASES.index(phase)
            samples[f] = presented[phase]
            events[g, f], energy[g, f] = _events_and_energy(
                phase_ledger.per_layer, phase_ledger.kinds, profiles
            )
            variants[g, f] = price_assumptions(phase_ledger.per_layer, phase_ledger.kinds)
    # Per fit, as the section's training estimates: sum_phase samples x mean_stage.
    per_fit = (variants.mean(axis=0) * samples[:, None]).sum(axis=0)
    return samples, events, energy, per_fit


def analyse_energy(run_dir: str | Path, n_stimuli: int = N_STIMULI, measure: bool = True) -> xr.Dataset:
    """Energy of every member and seed: estimates under every profile, and measurements where the
    machine allows; stored and returned."""
    from neurosim.metrics import ledger  # here, as the models: the report imports this module
    from neurosim.metrics.counts import NEURON_COUNTS
    from neurosim.metrics.training import PHASES
    from neurosim.run_loading import load_fitted_model

    config, task = load_run(run_dir)
    profiles = hardware_profiles()
    x = task.x_test[:n_stimuli]
    names, seeds = [m.name for m in config.members], list(config.seeds)
    arrays = _empty_arrays(len(names), len(seeds), len(profiles), len(PHASES))
    arrays.update(_assumption_arrays(len(names), len(seeds), len(profiles), len(NEURON_COUNTS)))
    counter, reasons = available_counter() if measure else (None, ["not requested"])
    for m, member in enumerate(config.members):
        for s, seed in enumerate(seeds):
            model = load_fitted_model(run_dir, member, task, seed)
            per_layer, kinds = ledger(model, x)
            arrays["events"][m, s], arrays["energy"][m, s] = _events_and_energy(per_layer, kinds, profiles)
            _fill_neurons_and_assumptions(arrays, (m, s), per_layer, kinds, profiles)
            if counter is not None and s == 0:
                arrays["measured"][m] = _measure(model, x, counter)
            fit = _training_energy(config, member, task, seed, model, profiles)
            keys = ("training_samples", "training_events", "training_energy", "training_sensitivity")
            for key, value in zip(keys, fit, strict=True):
                arrays[key][m, s] = value
    attrs = analysis_attrs("energy", len(x), task, config)
    attrs["measured"] = (
        counter.metadata()["counter"] + f" on {counter.device}" if counter is not None else "; ".join(reasons)
    )
    attrs.update(_profile_attrs(profiles))
    coords = {
        "model": names,
        "seed": seeds,
        "profile": list(profiles),
        "term": list(TERMS),
        "batch": list(MEASURED_BATCHES),
        "stage": list(STAGES),
        "phase": list(PHASES),
        "assumption": [a.name for a in ASSUMPTIONS],
        "window": list(WINDOWS),
        "neuron_term": list(NEURON_COUNTS),
    }
    dataset = _energy_dataset(arrays, coords, attrs).assign(_assumption_variables(arrays))
    return save_analysis(run_dir, "energy", dataset)


def _assumption_arrays(n_models: int, n_seeds: int, n_profiles: int, n_neuron_terms: int) -> dict:
    """The arrays of the sensitivity table, the protocol windows and the neuron counts."""
    return {
        "sensitivity": np.zeros((n_models, n_seeds, len(ASSUMPTIONS))),
        "training_sensitivity": np.zeros((n_models, n_seeds, len(ASSUMPTIONS))),
        "protocol_energy": np.full((n_models, n_seeds, len(WINDOWS), n_profiles, len(TERMS)), np.nan),
        "presentations": np.full((n_models, n_seeds), np.nan),
        "neuron_events": np.zeros((n_models, n_seeds, n_neuron_terms)),
    }


def _fill_neurons_and_assumptions(
    arrays: dict, index: tuple[int, int], per_layer: dict, kinds: dict, profiles: dict
) -> None:
    """One ledger's neuron counts, its price under every assumption and its protocol's windows."""
    from neurosim.metrics.counts import NEURON_COUNTS

    arrays["neuron_events"][index] = [
        sum(row.get(k, 0.0) for row in per_layer.values()) for k in NEURON_COUNTS
    ]
    arrays["sensitivity"][index] = price_assumptions(per_layer, kinds)
    arrays["protocol_energy"][index] = protocol_energy(per_layer, kinds, profiles)
    arrays["presentations"][index] = presentations_per_image(per_layer)


def _assumption_variables(arrays: dict) -> dict:
    """The Dataset variables of :func:`_assumption_arrays`."""
    per = ("model", "seed")
    return {
        "sensitivity": (
            (*per, "assumption"),
            arrays["sensitivity"],
            {"units": "pJ", "long_name": "estimated energy per image under each assumption (NaN: unpriced)"},
        ),
        "training_sensitivity": (
            (*per, "assumption"),
            arrays["training_sensitivity"],
            {"units": "pJ", "long_name": "estimated energy per fit under each assumption (NaN: unpriced)"},
        ),
        "protocol_energy": (
            (*per, "window", "profile", "term"),
            arrays["protocol_energy"],
            {"units": "pJ", "long_name": "estimated energy per image of each protocol window (NaN: none)"},
        ),
        "presentations": (
            per,
            arrays["presentations"],
            {"units": "count", "long_name": "presentations per image"},
        ),
        "neuron_events": (
            (*per, "neuron_term"),
            arrays["neuron_events"],
            {"units": "count", "long_name": "neuron-update counts per image"},
        ),
    }


def _empty_arrays(n_models: int, n_seeds: int, n_profiles: int, n_phases: int) -> dict[str, np.ndarray]:
    """The analysis's arrays, zero (measurements NaN) before they are filled."""
    shape = (n_models, n_seeds, len(STAGES), n_phases)
    return {
        "events": np.zeros((n_models, n_seeds, len(TERMS))),
        "energy": np.zeros((n_models, n_seeds, n_profiles, len(TERMS))),
        "measured": np.full((n_models, len(MEASURED_BATCHES), 4), np.nan),
        "training_events": np.zeros((*shape, len(TERMS))),
        "training_energy": np.zeros((*shape, n_profiles, len(TERMS))),
        "training_samples": np.zeros((n_models, n_seeds, n_phases), dtype=np.int64),
    }


def _profile_attrs(profiles: dict) -> dict[str, str]:
    """The evidence grades and each hardware profile's description, as attributes."""
    attrs = {"evidence_grades": "; ".join(f"{k} {v}" for k, v in EVIDENCE.items())}
    for profile in profiles.values():
        attrs[f"profile__{profile.id}"] = (
            f"{profile.title} [{profile.precision}; {profile.scope}; memory {profile.memory_model}; "
            f"evidence {profile.evidence()}]" + (f" {profile.notes}" if profile.notes else "")
        )
    return attrs


def _energy_dataset(arrays: dict[str, np.ndarray], coords: dict, attrs: dict) -> xr.Dataset:
    """The stored Dataset of the filled ``arrays``."""
    per_image = {"units": "J", "long_name": "measured energy per image"}
    measured = arrays["measured"]
    training = ("model", "seed", "stage", "phase")
    return xr.Dataset(
        {
            "events": (
                ("model", "seed", "term"),
                arrays["events"],
                {"units": "count", "long_name": "events per image"},
            ),
            "energy": (
                ("model", "seed", "profile", "term"),
                arrays["energy"],
                {"units": "pJ", "long_name": "estimated energy per image (NaN: unpriced)"},
            ),
            "training_events": (
                (*training, "term"),
                arrays["training_events"],
                {"units": "count", "long_name": "events per presented training sample"},
            ),
            "training_energy": (
                (*training, "profile", "term"),
                arrays["training_energy"],
                {
                    "units": "pJ",
                    "long_name": "estimated energy per presented training sample (NaN: unpriced)",
                },
            ),
            "training_samples": (
                ("model", "seed", "phase"),
                arrays["training_samples"],
                {"units": "count", "long_name": "training samples the fit presented"},
            ),
            "measured_total": (("model", "batch"), measured[..., 0], per_image),
            "measured_total_sd": (("model", "batch"), measured[..., 1], per_image),
            "measured_dynamic": (
                ("model", "batch"),
                measured[..., 2],
                {**per_image, "long_name": "idle-subtracted"},
            ),
            "measured_dynamic_sd": (("model", "batch"), measured[..., 3], per_image),
        },
        coords=coords,
        attrs=attrs,
    )


def stored_energy(run_dir: str | Path) -> xr.Dataset | None:
    """The stored energy analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "energy")


ANALYSIS = Analysis(
    name="energy",
    description="operations and energy per inference and to train, priced by hardware profiles",
    compute=analyse_energy,
    section=energy_section,
    summary=energy_summary,
)
