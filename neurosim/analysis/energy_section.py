"""The report section of the energy analysis (:mod:`neurosim.analysis.energy`), from its stored result.

The operating point first (batch, precision, memory model and its reuse assumption, neuron
pricing: :func:`~neurosim.analysis.energy_sensitivity.operating_point`). Per pair: a table of each
profile's compute-only and memory-aware estimates (µJ per image, mean
and 95 % CI over seeds) for the bio model and its twin, their ratio, and which member each
favours, with a sentence naming the profiles under which memory flips the comparison, and the
sensitivity table (:mod:`~neurosim.analysis.energy_sensitivity`); an accuracy-against-energy
scatter per complete profile; a simulated protocol's windows
(:mod:`~neurosim.analysis.energy_protocol`); then the events behind the estimates and,
separately and labelled so, the measured joules. Every estimate is labelled with its profile.

Training gets the same treatment per fit (mJ to train each member, from the training ledgers and
the samples each phase presented): a table per pair and profile, an energy-to-accuracy scatter per
profile, and the training events per presented sample behind it.

Written through :class:`~neurosim.analysis.study.Page`; reads stored results only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.ticker
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis.energy_protocol import protocol_section
from neurosim.analysis.energy_sensitivity import operating_point, sensitivity_table
from neurosim.analysis.statistics import mean_ci
from neurosim.analysis.study import Page, Table, pair_groups
from neurosim.energy.pricing import EnergyEstimate
from neurosim.energy.profiles import COMPUTE_TERMS

PJ_PER_UJ = 1e6
PJ_PER_MJ = 1e9
#: Relative difference below which two estimates are reported as a tie.
TIE = 0.005


def _as_estimates(by_term: xr.DataArray, profile: str) -> list[EnergyEstimate]:
    """One estimate per seed from pJ by term, ``[seed, term]``."""
    terms = [str(t) for t in by_term.term.values]
    return [EnergyEstimate(profile, dict(zip(terms, map(float, row), strict=True))) for row in by_term.values]


def stored_estimates(energy: xr.Dataset, member: str, profile: str) -> list[EnergyEstimate]:
    """The stored per-term energies of ``member`` under ``profile``, one estimate per seed."""
    return _as_estimates(energy.energy.sel(model=member, profile=profile), profile)


def _summary(seeds: list[EnergyEstimate], pj_per_unit: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per seed: compute-only and memory-aware energy in the unit, and the unpriced compute terms."""
    compute = np.array([e.compute for e in seeds]) / pj_per_unit
    memory = np.array([e.memory for e in seeds]) / pj_per_unit
    unpriced = [t for t in COMPUTE_TERMS if any(t in e.unpriced for e in seeds)]
    return compute, compute + memory, unpriced


def estimates(energy: xr.Dataset, member: str, profile: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per seed, µJ per image: compute-only and memory-aware (NaN where undefined), and the
    compute terms left unpriced. A compute term that is unpriced makes both NaN."""
    return _summary(stored_estimates(energy, member, profile), PJ_PER_UJ)


def training_estimates(
    energy: xr.Dataset, member: str, profile: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per seed, mJ to train ``member`` (``sum_phase samples x mean_stage`` energy per presented
    sample): compute-only and memory-aware (NaN where undefined), and the compute terms left
    unpriced."""
    per_sample = energy.training_energy.sel(model=member, profile=profile).mean("stage", skipna=False)
    samples = energy.training_samples.sel(model=member)
    per_fit = (per_sample * samples).sum("phase", skipna=False)  # [seed, term] pJ
    return _summary(_as_estimates(per_fit, profile), PJ_PER_MJ)


#: ``(energy, member, profile) -> (compute, memory-aware, unpriced terms)``, per seed.
Estimator = Callable[[xr.Dataset, str, str], tuple[np.ndarray, np.ndarray, list[str]]]


def _lower_bound(energy: xr.Dataset, member: str, profile: str) -> float:
    return float(np.mean([e.priced_compute for e in stored_estimates(energy, member, profile)])) / PJ_PER_UJ


def _format(values: np.ndarray) -> str:
    summary = mean_ci(values)
    if math.isnan(summary.low):
        return f"{summary.mean:.3g}"
    return f"{summary.mean:.3g} [{summary.low:.3g}, {summary.high:.3g}]"


def _cell(
    energy: xr.Dataset, member: str, profile: str, values: np.ndarray, unpriced: list[str], training: bool
) -> str:
    if unpriced and training:
        return f"unpriced ({', '.join(unpriced)})"
    if unpriced:
        events = energy.events.sel(model=member).mean("seed")
        missing = ", ".join(f"{float(events.sel(term=t)):,.0f} {t}" for t in unpriced)
        bound = _lower_bound(energy, member, profile)
        return f">= {bound:.3g} + unpriced ({missing})" if bound else f"unpriced ({missing})"
    if np.isnan(values).all():
        return "not modelled"
    return _format(values)


def _favours(bio: str, twin: str, bio_values: np.ndarray, twin_values: np.ndarray) -> tuple[str, str]:
    """``(ratio bio / twin, the member with less energy)``: a tie within :data:`TIE`; n/a where
    either is not priced."""
    if np.isnan(bio_values).any() or np.isnan(twin_values).any():
        return "n/a", "n/a"
    ratio = float(np.mean(bio_values) / np.mean(twin_values))
    if abs(ratio - 1.0) < TIE:
        return f"{ratio:.3g}", "tie"
    return f"{ratio:.3g}", bio if ratio < 1 else twin


def pair_table(energy: xr.Dataset, bio: str, twin: str, training: bool = False) -> tuple[Table, list[str]]:
    """The pair's estimates under every profile (per image, or per fit with ``training``), and the
    profiles where memory flips the winner."""
    estimator, unit = (training_estimates, "mJ per fit") if training else (estimates, "µJ")
    rows, flips = [], []
    for profile in [str(p) for p in energy.profile.values]:
        bio_compute, bio_total, bio_unpriced = estimator(energy, bio, profile)
        twin_compute, twin_total, twin_unpriced = estimator(energy, twin, profile)
        ratio_compute, winner_compute = _favours(bio, twin, bio_compute, twin_compute)
        ratio_total, winner_total = _favours(bio, twin, bio_total, twin_total)
        if training and bio_unpriced and twin_unpriced:
            continue  # neither member's training is priced: a row of "unpriced" says nothing
        decided = {"n/a", "tie"}.isdisjoint((winner_compute, winner_total))
        if decided and winner_compute != winner_total:
            flips.append(profile)
        rows.append(
            [
                profile,
                _cell(energy, bio, profile, bio_compute, bio_unpriced, training),
                _cell(energy, bio, profile, bio_total, bio_unpriced, training),
                _cell(energy, twin, profile, twin_compute, twin_unpriced, training),
                _cell(energy, twin, profile, twin_total, twin_unpriced, training),
                f"{ratio_compute} / {ratio_total}",
                f"{winner_compute} / {winner_total}",
            ]
        )
    header = [
        "profile",
        f"{bio} compute-only ({unit})",
        f"{bio} memory-aware ({unit})",
        f"{twin} compute-only ({unit})",
        f"{twin} memory-aware ({unit})",
        "ratio bio / twin (compute / memory-aware)",
        "less energy (compute / memory-aware)",
    ]
    return Table(header, rows), flips


def _events_table(energy: xr.Dataset) -> Table:
    terms = [str(t) for t in energy.term.values]
    rows = [
        [str(m), *(f"{float(energy.events.sel(model=m, term=t).mean()):,.0f}" for t in terms)]
        for m in energy.model.values
    ]
    return Table(["model", *terms], rows)


def _measured_section(page: Page, energy: xr.Dataset) -> None:
    page.heading("Measured energy per image (not an estimate)", 3)
    if np.isnan(energy.measured_total.values).all():
        page.paragraph(f"Not measured on this machine: {energy.attrs['measured']}.")
        return
    page.paragraph(
        f"Counter: {energy.attrs['measured']}. First seed of each model, the same test images "
        "pre-loaded on the device; warm-up, idle baseline, >= 2 s windows, 5 repeats (mean ± sd). "
        "Dynamic = total minus idle power x time. A GPU-simulated spiking network is dense, so its "
        "measured energy says nothing about neuromorphic hardware."
    )
    rows = []
    for member in [str(m) for m in energy.model.values]:
        for batch in [int(b) for b in energy.batch.values]:
            sel = {"model": member, "batch": batch}
            total, dynamic = (
                f"{float(energy[name].sel(sel)) * 1e6:.4g} ± {float(energy[name + '_sd'].sel(sel)) * 1e6:.2g}"
                for name in ("measured_total", "measured_dynamic")
            )
            rows.append([member, str(batch), total, dynamic])
    page.table(["model", "batch", "total (µJ per image)", "dynamic (µJ per image)"], rows)


def _scatter_panels(
    energy: xr.Dataset, group: list[str], estimator: Estimator = estimates
) -> dict[str, dict[str, np.ndarray]]:
    """``{panel title: {member: energy per seed}}`` for each profile that prices every member:
    memory-aware where the profile models memory, else compute-only."""
    panels = {}
    for profile in [str(p) for p in energy.profile.values]:
        pairs = {member: estimator(energy, member, profile)[:2] for member in group}
        memory_modelled = all(not np.isnan(total).any() for _, total in pairs.values())
        values = {m: total if memory_modelled else compute for m, (compute, total) in pairs.items()}
        if all(not np.isnan(v).any() for v in values.values()):
            panels[f"{profile} ({'memory-aware' if memory_modelled else 'compute-only'})"] = values
    return panels


def accuracy_vs_energy(
    panels: dict[str, dict[str, np.ndarray]],
    accuracy: dict[str, np.ndarray],
    title: str,
    quantity: str = "estimated energy per image (µJ)",
) -> Figure:
    """One panel per hardware profile: final test accuracy against an estimated energy
    (``quantity``, log scale where it spans a range), each member's seeds as points and their mean
    as a larger marker."""
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.0 * columns, 3.1 * rows))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis, (panel, values) in zip(axes.ravel(), panels.items(), strict=False):
        for index, (member, energy) in enumerate(values.items()):
            colour = f"C{index}"
            axis.scatter(energy, accuracy[member], s=12, color=colour, alpha=0.5)
            axis.scatter(np.mean(energy), np.mean(accuracy[member]), s=60, color=colour, label=member)
        energies = np.concatenate([np.ravel(v) for v in values.values()])
        if energies.max() > 5 * energies.min() > 0:  # a log axis only where it spans a range
            axis.set_xscale("log")
        else:
            axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
            axis.ticklabel_format(axis="x", useOffset=False, style="plain")
        axis.set_xlabel(quantity)
        axis.set_ylabel("test accuracy")
        axis.set_title(f"estimate: {panel}", fontsize=8)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    for axis in axes.ravel()[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=9)
    return figure


def energy_section(page: Page, energy: xr.Dataset, results: xr.Dataset) -> None:
    """The energy section of a run report (``results``: the run's results, for the accuracies)."""
    groups = pair_groups(energy)
    page.heading(f"Energy per image ({energy.attrs['stimuli']}; stored models)")
    page.paragraph(
        "ESTIMATES, not measurements: exact operation and memory-event counts of each stored model "
        "priced by hardware profiles (neurosim/energy/profiles.json, with the source and evidence "
        "grade of every price). Compute-only prices the arithmetic (MACs, ACs, neuron updates, "
        "spikes); memory-aware adds weight, input, state and output accesses under the profile's "
        "memory model. Both members get the same zero-skipping hardware. A term the profile cannot "
        "price (e.g. real-valued MACs on a spiking chip) is shown as unpriced, never as 0; compare "
        "ratios within one profile, not absolute numbers across profiles. Evidence grades: "
        f"{energy.attrs['evidence_grades']}."
    )
    page.paragraph(operating_point(energy))
    page.table(
        ["profile", "description"], [[str(p), energy.attrs[f"profile__{p}"]] for p in energy.profile.values]
    )
    for group in groups:
        bio, twins = group[0], group[1:]
        for twin in twins:
            table, flips = pair_table(energy, bio, twin)
            page.heading(f"{bio} vs. {twin}", 3)
            page.table(*table)
            page.paragraph(
                f"Memory flips the comparison under: {', '.join(flips)}."
                if flips
                else "Counting memory accesses flips the comparison under no profile where both are priced."
            )
            if "sensitivity" in energy:
                page.paragraph(
                    f"Sensitivity: which assumptions flip the winner ({bio} vs. {twin}; one assumption "
                    "changed at a time from the reference, geometric-mean ratio over seeds)."
                )
                page.table(*sensitivity_table(energy, bio, twin))
        panels = _scatter_panels(energy, group)
        if panels:
            title = " vs. ".join(group)
            accuracy = {m: results.final_test_accuracy.sel(model=m).values for m in group}
            page.figure(
                accuracy_vs_energy(panels, accuracy, title),
                f"energy_{'_'.join(group)}.png",
                f"{title}: final test accuracy vs. estimated energy per image, one panel per profile "
                "(memory-aware where the profile models memory)",
            )
    page.heading("Events per image behind the estimates (mean over seeds)", 3)
    page.table(*_events_table(energy))
    protocol_section(page, energy)
    if "training_energy" in energy:
        _training_section(page, energy, results, groups)
    _measured_section(page, energy)


def _training_events_table(energy: xr.Dataset) -> Table:
    """Events per presented training sample, by member, phase and stage (mean over seeds)."""
    terms = [str(t) for t in energy.term.values]
    rows = []
    for member in [str(m) for m in energy.model.values]:
        for phase in [str(p) for p in energy.phase.values]:
            samples = energy.training_samples.sel(model=member, phase=phase)
            if not bool((samples > 0).all()):
                continue
            for stage in [str(s) for s in energy.stage.values]:
                events = energy.training_events.sel(model=member, phase=phase, stage=stage).mean("seed")
                row = [member, phase, f"{float(samples.mean()):,.0f}", stage]
                rows.append(row + [f"{float(events.sel(term=t)):,.0f}" for t in terms])
    return Table(["model", "phase", "samples per fit", "stage", *terms], rows)


def _training_section(page: Page, energy: xr.Dataset, results: xr.Dataset, groups: list[list[str]]) -> None:
    page.heading("Energy to train (estimates, mJ per fit)", 3)
    page.paragraph(
        "ESTIMATES: the training steps of each fit replayed under exact counting (forward pass in "
        "training mode, backward pass of backprop, plasticity updates of local rules, optimiser "
        "updates with their state), per presented sample and phase (unsupervised, cached "
        "features, supervised), priced by the same profiles, times the samples the fit presented. "
        "Each ledger is measured at the start of the fit (the model rebuilt from its seed) and at "
        "the end (the stored model) and the two are averaged: a rule that learns from mistakes "
        "costs more early on (see the table of events). Evaluation is not training and is not "
        "counted. Profiles that price neither member's training (chips without real-valued MACs, "
        "on which backward passes and weight updates cannot be priced) are left out of the tables."
    )
    for group in groups:
        bio, twins = group[0], group[1:]
        for twin in twins:
            table, flips = pair_table(energy, bio, twin, training=True)
            page.heading(f"Training: {bio} vs. {twin}", 4)
            page.table(*table)
            if flips:
                page.paragraph(f"Memory flips the training comparison under: {', '.join(flips)}.")
        panels = _scatter_panels(energy, group, training_estimates)
        if panels:
            title = " vs. ".join(group)
            accuracy = {m: results.final_test_accuracy.sel(model=m).values for m in group}
            page.figure(
                accuracy_vs_energy(panels, accuracy, title, "estimated energy to train (mJ)"),
                f"training_energy_{'_'.join(group)}.png",
                f"{title}: final test accuracy vs. estimated energy to train, one panel per profile "
                "(memory-aware where the profile models memory)",
            )
    page.heading("Training events per presented sample (mean over seeds)", 4)
    page.table(*_training_events_table(energy))
