"""``neurosim report RUN_DIR``: report.html and report.md rebuilt from stored results only.

Sections: what was compared; per pair a table (mean and 95 % CI over seeds of the final test
accuracy and of the accuracy after one epoch, parameter counts) with a paired test of the bio
model against its twin, and learning curves; references outside pairs; operation counts; the
section of every stored analysis, written by the analysis itself onto a :class:`ReportPage`
(:data:`neurosim.analysis.registry.STUDIES`, in that order); confusion matrices; first-layer
weights; the resolved config and provenance. Figures are PNG files beside the report, which the
HTML embeds by relative path. Imports no model code (``tests/test_report_imports.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from neurosim.analysis.registry import STUDIES
from neurosim.analysis.statistics import format_mean_ci, paired_test
from neurosim.errors import UserError
from neurosim.options import checked_names
from neurosim.pairs import PAIRS, stored_pair_members
from neurosim.report import figures
from neurosim.report.document import Document, Table
from neurosim.report.validity import (
    describe_divergence,
    diverged_seeds,
    unlearnt_seeds,
    validity_warnings,
)
from neurosim.results.storage import open_dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


PAIRED_HEADER = ["paired difference (final test accuracy)", "mean", "p (paired t)", "Cohen's d_z", "seeds"]


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


class ReportPage:
    """The report as a study's section writes to it (:class:`neurosim.analysis.study.Page`): the
    document, and the folder its figures are saved in (PNG, :data:`~neurosim.report.figures.DPI`)."""

    def __init__(self, doc: Document, figure_dir: Path) -> None:
        self.doc = doc
        self.figure_dir = figure_dir

    def heading(self, text: str, level: int = 2) -> None:
        self.doc.heading(text, level)

    def paragraph(self, text: str) -> None:
        self.doc.paragraph(text)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.doc.table(Table(list(header), [list(row) for row in rows]))

    def figure(self, figure: Figure, name: str, caption: str, tight: bool = True) -> None:
        self.doc.figure(figures.save_figure(figure, self.figure_dir / name, tight), caption)


def _introduction(doc: Document, results: xr.Dataset, seeds: list[int]) -> None:
    """Title, description, task and seeds, and the warnings about the results' validity."""
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


def _pair_sections(doc: Document, results: xr.Dataset, members: list[str], figure_dir: Path) -> None:
    """Per pair: its members' table, the paired tests of the bio model against each twin and the
    learning curves; then the reference models (members outside every pair)."""
    paired: set[str] = set()
    for pair_name, pair_members in stored_pair_members(results.attrs).items():
        pair = PAIRS.get(pair_name)
        bio, *twins = pair_members
        paired.update(pair_members)
        doc.heading(f"Pair {pair_name}: held equal: {pair.held_equal}")
        doc.paragraph(pair.description)
        doc.table(Table(MEMBER_HEADER, [_member_row(results, m) for m in pair_members]))
        doc.table(Table(PAIRED_HEADER, [_paired_row(results, bio, twin) for twin in twins]))
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


def _study_sections(page: ReportPage, run_dir: Path, results: xr.Dataset) -> None:
    """The section of every analysis stored in the run, in registry order (an analysis that was
    never run has no section)."""
    for study in STUDIES:
        stored = study.stored(run_dir)
        if stored is not None and study.section is not None:
            study.section(page, stored, results)


def _closing_sections(
    doc: Document, results: xr.Dataset, fits: dict[str, xr.Dataset], seeds: list[int], figure_dir: Path
) -> None:
    """Confusion matrices, first-layer weights (first seed), provenance and the resolved config."""
    members = list(fits)
    class_names = json.loads(next(iter(fits.values())).attrs.get("class_names", "[]")) or [
        str(i) for i in range(results.sizes["class_true"])
    ]
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

    doc = Document()
    _introduction(doc, results, seeds)
    _pair_sections(doc, results, members, figure_dir)
    doc.heading("Operations per inference (exact counts)")
    if "total_dense_macs" not in results:
        doc.paragraph("These results were stored before operation counts existed; rerun to add them.")
    else:
        _operations_section(doc, results, fits, members)
    _study_sections(ReportPage(doc, figure_dir), run_dir, results)
    _closing_sections(doc, results, fits, seeds, figure_dir)
    return doc.write(out, f"neurosim: {results.attrs['comparison']}")
