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
* attributes ``profile__<id>`` (title, precision, evidence and notes of each profile).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr

from neurosim.analysis import N_STIMULI
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.energy.measurement import available_counter, measure_energy
from neurosim.energy.pricing import TERMS, model_events, price
from neurosim.energy.profiles import EVIDENCE, hardware_profiles
from neurosim.metrics import ledger
from neurosim.metrics.training import PHASES, training_ledger
from neurosim.models.base import NeurosimModel
from neurosim.run_loading import build_model, load_fitted_model

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


def analyse_energy(run_dir: str | Path, n_stimuli: int = N_STIMULI, measure: bool = True) -> xr.Dataset:
    """Energy of every member and seed: estimates under every profile, and measurements where the
    machine allows; stored and returned."""
    config, task = load_run(run_dir)
    profiles = hardware_profiles()
    x = task.x_test[:n_stimuli]
    names, seeds = [m.name for m in config.members], list(config.seeds)
    events = np.zeros((len(names), len(seeds), len(TERMS)))
    energy = np.zeros((len(names), len(seeds), len(profiles), len(TERMS)))
    measured = np.full((len(names), len(MEASURED_BATCHES), 4), np.nan)
    shape = (len(names), len(seeds), len(STAGES), len(PHASES))
    training_events = np.zeros((*shape, len(TERMS)))
    training_energy = np.zeros((*shape, len(profiles), len(TERMS)))
    training_samples = np.zeros((len(names), len(seeds), len(PHASES)), dtype=np.int64)
    counter, reasons = available_counter() if measure else (None, ["not requested"])
    for m, member in enumerate(config.members):
        for s, seed in enumerate(seeds):
            model = load_fitted_model(run_dir, member, task, seed)
            per_layer, kinds = ledger(model, x)
            events[m, s], energy[m, s] = _events_and_energy(per_layer, kinds, profiles)
            if counter is not None and s == 0:
                measured[m] = _measure(model, x, counter)
            for g, trained in enumerate((build_model(member, task, seed), model)):
                ledgers, presented = training_ledger(
                    trained, task, member.training, seed, config.task.n_per_class, config.task.subset_seed
                )
                for phase, phase_ledger in ledgers.items():
                    f = PHASES.index(phase)
                    training_samples[m, s, f] = presented[phase]
                    training_events[m, s, g, f], training_energy[m, s, g, f] = _events_and_energy(
                        phase_ledger.per_layer, phase_ledger.kinds, profiles
                    )
    attrs = analysis_attrs("energy", len(x), task, config)
    attrs["measured"] = (
        counter.metadata()["counter"] + f" on {counter.device}" if counter is not None else "; ".join(reasons)
    )
    attrs["evidence_grades"] = "; ".join(f"{k} {v}" for k, v in EVIDENCE.items())
    for profile in profiles.values():
        attrs[f"profile__{profile.id}"] = (
            f"{profile.title} [{profile.precision}; {profile.scope}; memory {profile.memory_model}; "
            f"evidence {profile.evidence()}]" + (f" {profile.notes}" if profile.notes else "")
        )
    per_image = {"units": "J", "long_name": "measured energy per image"}
    dataset = xr.Dataset(
        {
            "events": (
                ("model", "seed", "term"),
                events,
                {"units": "count", "long_name": "events per image"},
            ),
            "energy": (
                ("model", "seed", "profile", "term"),
                energy,
                {"units": "pJ", "long_name": "estimated energy per image (NaN: unpriced)"},
            ),
            "training_events": (
                ("model", "seed", "stage", "phase", "term"),
                training_events,
                {"units": "count", "long_name": "events per presented training sample"},
            ),
            "training_energy": (
                ("model", "seed", "stage", "phase", "profile", "term"),
                training_energy,
                {
                    "units": "pJ",
                    "long_name": "estimated energy per presented training sample (NaN: unpriced)",
                },
            ),
            "training_samples": (
                ("model", "seed", "phase"),
                training_samples,
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
        coords={
            "model": names,
            "seed": seeds,
            "profile": list(profiles),
            "term": list(TERMS),
            "batch": list(MEASURED_BATCHES),
            "stage": list(STAGES),
            "phase": list(PHASES),
        },
        attrs=attrs,
    )
    return save_analysis(run_dir, "energy", dataset)


def stored_energy(run_dir: str | Path) -> xr.Dataset | None:
    """The stored energy analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "energy")
