"""``neurosim report RUN_DIR``: report.html and report.md rebuilt from stored results only.

Sections: what was compared; per pair a table (mean and 95 % CI over seeds of the final test
accuracy and of the accuracy after one epoch, parameter counts) with a paired test of the bio
model against its twin, and learning curves; references outside pairs; confusion matrices;
first-layer weights; the resolved config and provenance. Figures are PNG files beside the
report, which the HTML embeds by relative path.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

from neurosim.analysis.black_box import stored_attacks
from neurosim.analysis.energy import stored_energy
from neurosim.analysis.orientation import stored_orientation
from neurosim.analysis.receptive_fields import stored_receptive_fields
from neurosim.analysis.representations import stored_representations
from neurosim.analysis.robustness import stored_robustness
from neurosim.analysis.statistics import paired_test
from neurosim.analysis.tolerance import stored_tolerance
from neurosim.errors import UserError
from neurosim.options import checked_names
from neurosim.pairs import PAIRS, group_by_pair, stored_pair_members
from neurosim.report import figures
from neurosim.report.document import Document, Table, format_mean_ci
from neurosim.report.energy import energy_section
from neurosim.report.validity import (
    describe_divergence,
    diverged_seeds,
    unlearnt_seeds,
    validity_warnings,
)
from neurosim.results.storage import open_dataset

PROVENANCE_SHOWN = (
    "git_sha",
    "neurosim_version",
    "torch_version",
    "numpy_version",
    "python_version",
    "device",
    "torch_threads",
    "torch_interop_threads",
    "threads_source",
    "platform",
    "created",
)


def _after_one_epoch(results: xr.Dataset, member: str) -> np.ndarray:
    epochs = results.epoch.values
    if not np.any(np.isclose(epochs, 1.0)):
        return np.array([np.nan])
    index = int(np.flatnonzero(np.isclose(epochs, 1.0))[0])
    return results.test_accuracy.sel(model=member).isel(checkpoint=index).values


def _member_row(results: xr.Dataset, member: str) -> list[str]:
    trainable = int(results.n_parameters_trainable.sel(model=member).values[0])
    fixed = int(results.n_parameters_fixed.sel(model=member).values[0])
    divergence = describe_divergence(results, member)
    if divergence:  # a failed optimisation is not a result: no numbers
        final = after_one_epoch = f"DIVERGED ({divergence})"
    else:
        final = format_mean_ci(results.final_test_accuracy.sel(model=member).values)
        after_one_epoch = format_mean_ci(_after_one_epoch(results, member))
        unlearnt = unlearnt_seeds(results, member)
        if unlearnt:  # measured, but the rule did not learn: said beside the number
            final += f" (DID NOT LEARN in seeds {', '.join(map(str, unlearnt))})"
    return [
        member,
        str(results.role.sel(model=member).values),
        final,
        after_one_epoch,
        f"{trainable:,}" + (f" (+{fixed:,} fixed)" if fixed else ""),
        str(results.loss_kind.sel(model=member).values),
    ]


MEMBER_HEADER = [
    "model",
    "role",
    "final test accuracy, mean [95 % CI]",
    "test accuracy after 1 epoch",
    "trained parameters",
    "training objective",
]


OPERATIONS_HEADER = [
    "model",
    "dense MACs",
    "effective MACs",
    "ACs (synaptic ops)",
    "neuron updates",
    "spikes",
]
LAYER_HEADER = [
    "model",
    "layer",
    "kind",
    "dense MACs",
    "effective MACs",
    "ACs",
    "spikes",
    "spikes per neuron per step",
    "activation sparsity",
]


def _operations_row(results: xr.Dataset, member: str) -> list[str]:
    names = ("dense_macs", "effective_macs", "effective_acs", "neuron_updates", "spikes")
    return [member] + [f"{float(results[f'total_{n}'].sel(model=member).mean()):,.0f}" for n in names]


def _layer_rows(fit: xr.Dataset) -> list[list[str]]:
    rows = []
    for index, layer in enumerate(fit.layer.values):
        kind = str(fit.layer_kind.values[index])
        spikes = float(fit.ops_spikes.values[index])
        updates = float(fit.ops_neuron_updates.values[index])
        rate = f"{spikes / updates:.4f}" if kind == "lif" and updates else ""
        rows.append(
            [
                fit.attrs["member"],
                str(layer),
                kind,
                *(
                    f"{float(fit[f'ops_{n}'].values[index]):,.0f}"
                    for n in ("dense_macs", "effective_macs", "effective_acs", "spikes")
                ),
                rate,
                f"{float(fit.activation_sparsity.values[index]):.3f}",
            ]
        )
    return rows


def _operations_section(doc: Document, results: xr.Dataset, fits: dict, members: list[str]) -> None:
    """Totals per model (mean over seeds) and per-layer counts and spike rates (first seed)."""
    doc.paragraph(
        "Counted by hooks on the first 1000 test images after training, per image. A dense layer "
        "fed spikes does accumulates (ACs, synaptic operations); fed real values, multiply-"
        "accumulates (effective MACs, non-zero inputs only); dense MACs count every input. These "
        "are counts, not energy: pricing them needs a hardware profile."
    )
    doc.table(Table(OPERATIONS_HEADER, [_operations_row(results, m) for m in members]))
    doc.table(Table(LAYER_HEADER, [row for m in members for row in _layer_rows(fits[m])]))


def _paired_row(results: xr.Dataset, bio: str, twin: str) -> list[str]:
    failed = [m for m in (bio, twin) if diverged_seeds(results, m)]
    if failed:
        reason = f"not tested: {' and '.join(failed)} diverged"
        return [f"{bio} - {twin}", reason, "n/a", "n/a", "0"]
    test = paired_test(
        results.final_test_accuracy.sel(model=bio).values,
        results.final_test_accuracy.sel(model=twin).values,
    )
    p = "n/a" if math.isnan(test.p_value) else f"{test.p_value:.3g}"
    d = "n/a" if math.isnan(test.effect_size) else f"{test.effect_size:.2f}"
    return [f"{bio} - {twin}", f"{test.mean_difference:+.4f}", p, d, str(test.n)]


REPRESENTATION_COLUMNS = (
    ("fraction_active_population", "fraction active per image"),
    ("sparseness_population", "population sparseness (Vinje-Gallant)"),
    ("sparseness_lifetime", "lifetime sparseness (Vinje-Gallant)"),
    ("participation_ratio", "effective dimensionality (participation ratio)"),
)


def _representations_section(doc: Document, analysis: xr.Dataset, figure_dir: Path) -> None:
    """CKA maps of each bio model against its twin and the code measures of every layer."""
    doc.heading(f"Representations ({analysis.attrs['stimuli']}; stored models)")
    doc.paragraph(
        "Layer outputs at each model's probe points (spike counts over the presentation for spiking "
        "layers). CKA compares two layers' representational geometry on the same images (1: the same "
        "up to rotation and scale); debiased CKA removes the finite-sample bias of linear CKA. "
        "'Active' is an output above 0 (for a probe point before a rectifying nonlinearity, active "
        "after it); cortex has roughly 1-5 % of units active per stimulus. Values: mean [95 % CI] over seeds."
    )
    for name in analysis.data_vars:
        if not name.startswith("cka__"):
            continue
        _, bio, twin = name.split("__")
        doc.figure(
            figures.cka_heatmaps(analysis[name], bio, twin, figure_dir / f"cka_{bio}_{twin}.png"),
            f"{bio} vs. {twin}: layer x layer CKA",
        )
        if f"rsa__{bio}__{twin}" in analysis:
            doc.figure(
                figures.rsa_heatmap(
                    analysis[f"rsa__{bio}__{twin}"], bio, twin, figure_dir / f"rsa_{bio}_{twin}.png"
                ),
                f"{bio} vs. {twin}: layer x layer correlation of RDMs ({analysis.attrs['rdm']})",
            )
    for name in analysis.data_vars:
        if name.startswith("rdm__"):
            member = name.split("__", 1)[1]
            doc.figure(
                figures.rdm_matrices(analysis[name], member, figure_dir / f"rdm_{member}.png"),
                f"{member}: RDM of each layer (first seed; stimuli grouped by class)",
            )
    rows = []
    for name in analysis.data_vars:
        if not name.startswith("code__"):
            continue
        member = name.split("__", 1)[1]
        code = analysis[name]
        for layer in code[f"layer__{member}"].values:
            values = code.sel({f"layer__{member}": layer})
            rows.append(
                [member, str(layer)]
                + [
                    format_mean_ci(values.sel(measure=measure).values)
                    for measure, _ in REPRESENTATION_COLUMNS
                ]
            )
    doc.table(Table(["model", "layer", *(label for _, label in REPRESENTATION_COLUMNS)], rows))


def _pair_groups(analysis: xr.Dataset) -> list[list[str]]:
    """The members of an analysis grouped by pair (bio first), then every unpaired member alone."""
    return group_by_pair(stored_pair_members(analysis.attrs), [str(m) for m in analysis.model.values])


def _strength_curves_section(
    doc: Document, curves: xr.Dataset, figure_dir: Path, heading: str, explanation: str
) -> None:
    """Accuracy-vs-strength curves (robustness, tolerance) of each pair's members, one figure per pair."""
    name = curves.attrs["analysis"]
    doc.heading(f"{heading} ({curves.attrs['stimuli']}; stored models)")
    doc.paragraph(explanation + " Mean over seeds with a 95 % CI band.")
    for group in _pair_groups(curves):
        title = " vs. ".join(group)
        doc.figure(
            figures.robustness_curves(curves, group, title, figure_dir / f"{name}_{'_'.join(group)}.png"),
            f"{title}: test accuracy vs. {heading.lower()} strength",
        )


def _robustness_section(doc: Document, robustness: xr.Dataset, figure_dir: Path) -> None:
    note = robustness.attrs.get("no_input_gradient", "")
    _strength_curves_section(
        doc,
        robustness,
        figure_dir,
        "Robustness",
        "Gaussian pixel noise, salt-and-pepper and an occluding square at a random position (fixed "
        "draws, the same images for every model), and FGSM and L-infinity PGD on each model's own "
        "loss (PGD: 40 steps, one random start)."
        + (f" No input gradient, so no FGSM or PGD curve: {note}." if note else ""),
    )


def _attacks_section(doc: Document, attacks: xr.Dataset, figure_dir: Path) -> None:
    sources = ", ".join(
        f"{name.removeprefix('transfer_source__')} <- {value}"
        for name, value in attacks.attrs.items()
        if name.startswith("transfer_source__")
    )
    _strength_curves_section(
        doc,
        attacks,
        figure_dir,
        "Black-box and transfer attacks",
        f"L-infinity Square Attack with score access only ({attacks.attrs['square_queries']} queries per "
        "image, Andriushchenko et al. 2020, through the Adversarial Robustness Toolbox), which reaches "
        "models without an input gradient too; and transfer: PGD examples crafted on the pair's other "
        f"member (same seed) classified by this one (target <- source: {sources}). NaN (no curve) where "
        "the source has no input gradient.",
    )


def _tolerance_section(doc: Document, tolerance: xr.Dataset, figure_dir: Path) -> None:
    _strength_curves_section(
        doc,
        tolerance,
        figure_dir,
        "Shift and deformation tolerance",
        "Test images translated (each by the stated number of pixels in one of 8 directions), rotated "
        "(either way) and elastically deformed (Simard et al. 2003; root-mean-square displacement), the "
        "same transformed images for every model. A curve that stays flat is tolerant.",
    )


def _orientation_section(doc: Document, orientation: xr.Dataset, figure_dir: Path) -> None:
    """OSI histograms of each pair's first layers and a table of the OSI per member."""
    doc.heading("Orientation tuning of the first layer (gratings; stored models)")
    doc.paragraph(
        f"Stimuli: {orientation.attrs['stimuli']}. A unit's response is its rectified output at the "
        "model's first probe point (the centre position of a convolutional layer); its tuning curve is "
        "the mean over phases at its preferred period, and OSI = 1 - circular variance (Ringach et "
        "al. 2002). Macaque V1 cells are broadly distributed over 0-1 (Ringach et al. 2002); "
        "a layer whose units all sit at one end is unlike V1. Unresponsive units (no grating drives "
        "them) have no OSI."
    )
    rows = []
    for member in [str(m) for m in orientation.model.values]:
        osi = orientation.osi.sel(model=member).values  # [seed, unit]
        rows.append(
            [
                member,
                str(orientation.attrs.get(f"layer__{member}", "")),
                f"{orientation.attrs.get(f'responsive__{member}', float('nan')):.3f}",
                format_mean_ci(np.nanmedian(osi, axis=1)),
                format_mean_ci(np.array([np.mean(row[~np.isnan(row)] > 0.5) for row in osi])),
            ]
        )
    doc.table(Table(["model", "layer", "responsive units", "median OSI", "fraction with OSI > 0.5"], rows))
    for group in _pair_groups(orientation):
        title = " vs. ".join(group)
        doc.figure(
            figures.osi_histograms(orientation, group, title, figure_dir / f"osi_{'_'.join(group)}.png"),
            f"{title}: orientation selectivity of first-layer units (all seeds)",
        )


def _receptive_fields_section(doc: Document, receptive_fields: xr.Dataset, figure_dir: Path) -> None:
    """STA mosaics of each member's first layer and how well the STAs follow the weights."""
    doc.heading(f"Receptive fields from white noise ({receptive_fields.attrs['stimuli']}; stored models)")
    doc.paragraph(
        "Spike-triggered average (Chichilnisky 2001) of each first-layer unit: the response-weighted "
        "mean of the mean-subtracted noise images (spike counts for spiking units). For a unit that "
        "sums its weighted input before a non-linearity the STA is proportional to its weights, so "
        "the cosine between the two measures how linear the unit's input stage is (blank where the "
        "model stores no matching weight matrix)."
    )
    rows = []
    for member in [str(m) for m in receptive_fields.model.values]:
        cosine = receptive_fields.sta_weight_cosine.sel(model=member).values  # [seed, unit]
        units = int(receptive_fields.attrs.get(f"units__{member}", receptive_fields.sizes["unit"]))
        responsive = np.isfinite(receptive_fields.sta.sel(model=member).values[:, :units, 0])
        rows.append(
            [
                member,
                str(receptive_fields.attrs.get(f"layer__{member}", "")),
                f"{responsive.mean():.3f}",
                format_mean_ci(np.nanmedian(cosine, axis=1)) if np.isfinite(cosine).any() else "",
            ]
        )
        doc.figure(
            figures.sta_mosaic(receptive_fields, member, figure_dir / f"sta_{member}.png"),
            f"{member}: spike-triggered averages of the first 16 units (first seed)",
        )
    doc.table(Table(["model", "layer", "responsive units", "median cosine(STA, weights)"], rows))


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` and ``report.md`` for a run (or a sweep) into ``out`` (default
    ``<run_dir>/report``); returns the HTML path."""
    run_dir = Path(run_dir)
    if (run_dir / "sweep.nc").is_file():
        from neurosim.report.sweep import build_sweep_report

        return build_sweep_report(run_dir, out)
    results_path = run_dir / "results.nc"
    if not results_path.is_file():
        raise UserError(f"{run_dir} holds no results.nc; run `neurosim run` first (or check the path)")
    results = open_dataset(results_path)
    out = Path(out) if out is not None else run_dir / "report"
    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    members = checked_names([str(m) for m in results.model.values], results_path)
    seeds = [int(s) for s in results.seed.values]
    fits = {m: open_dataset(run_dir / "fits" / m / f"seed{seeds[0]}.nc") for m in members}
    class_names = json.loads(next(iter(fits.values())).attrs.get("class_names", "[]")) or [
        str(i) for i in range(results.sizes["class_true"])
    ]

    doc = Document()
    doc.heading(f"neurosim report: {results.attrs['comparison']}", 1)
    doc.paragraph(results.attrs.get("description", ""))
    doc.paragraph(
        f"Task: {results.attrs['task']} ({results.attrs.get('task_description', '')}). "
        f"Seeds: {', '.join(map(str, seeds))}. Intervals are 95 % Student-t intervals over seeds; "
        "paired tests compare the bio model with its twin seed by seed (same data order)."
    )
    warnings = validity_warnings(results, stored_pair_members(results.attrs))
    if warnings:
        doc.heading("Warnings")
        for warning in warnings:
            doc.paragraph("WARNING: " + warning)
    paired: set[str] = set()
    for pair_name, pair_members in stored_pair_members(results.attrs).items():
        pair = PAIRS.get(pair_name)
        bio, *twins = pair_members
        paired.update(pair_members)
        doc.heading(f"Pair {pair_name}: held equal: {pair.held_equal}")
        doc.paragraph(pair.description)
        doc.table(Table(MEMBER_HEADER, [_member_row(results, m) for m in pair_members]))
        doc.table(
            Table(
                [
                    "paired difference (final test accuracy)",
                    "mean",
                    "p (paired t)",
                    "Cohen's d_z",
                    "seeds",
                ],
                [_paired_row(results, bio, twin) for twin in twins],
            )
        )
        doc.figure(
            figures.learning_curves(results, pair_members, pair_name, figure_dir / f"curve_{pair_name}.png"),
            f"{pair_name}: test accuracy vs. training samples seen (mean, 95 % CI band)",
        )
    references = [m for m in members if m not in paired]
    if references:
        doc.heading("Reference models")
        doc.table(Table(MEMBER_HEADER, [_member_row(results, m) for m in references]))
        doc.figure(
            figures.learning_curves(
                results, references, "reference models", figure_dir / "curve_references.png"
            ),
            "reference models: test accuracy vs. training samples seen",
        )
    doc.heading("Operations per inference (exact counts)")
    if "total_dense_macs" not in results:
        doc.paragraph("These results were stored before operation counts existed; rerun to add them.")
    else:
        _operations_section(doc, results, fits, members)
    for stored, section in (
        (stored_representations, _representations_section),
        (stored_robustness, _robustness_section),
        (stored_attacks, _attacks_section),
        (stored_tolerance, _tolerance_section),
        (stored_orientation, _orientation_section),
        (stored_receptive_fields, _receptive_fields_section),
    ):
        analysis = stored(run_dir)
        if analysis is not None:  # an analysis that was never run has no section
            section(doc, analysis, figure_dir)
    energy = stored_energy(run_dir)
    if energy is not None:
        energy_section(doc, energy, results, _pair_groups(energy), figure_dir)
    doc.heading("Confusion matrices (test set, all seeds)")
    doc.figure(
        figures.confusion_matrices(results, members, class_names, figure_dir / "confusion.png"),
        "confusion matrix of every member, rows normalised",
    )
    doc.heading(f"First-layer weights (seed {seeds[0]})")
    for member in members:
        doc.figure(
            figures.first_layer_weights(fits[member], figure_dir / f"weights_{member}.png"),
            f"{member}: weights from the input to the first units",
        )
    doc.heading("Provenance")
    doc.table(Table(["attribute", "value"], [[k, str(results.attrs.get(k, ""))] for k in PROVENANCE_SHOWN]))
    doc.heading("Resolved configuration")
    doc.code(json.dumps(json.loads(results.attrs["config"]), indent=2, sort_keys=True))

    return doc.write(out, f"neurosim: {results.attrs['comparison']}")
