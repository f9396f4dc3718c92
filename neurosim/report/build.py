"""``neurosim report RUN_DIR``: report.html and report.md rebuilt from stored results only.

Sections: the summary first (:mod:`neurosim.report.summary`: a row per bio model and twin, which
is better on what, with what certainty); what was compared; per pair a table (mean and 95 %
interval over seeds and test images of the final test accuracy and of the accuracy after one
epoch, parameter counts), the budgets each member was actually given
(:mod:`neurosim.report.budgets`), the paired comparisons of the bio model with each twin
(:mod:`neurosim.report.paired`), learning curves and the members' confusion matrices side by
side; references outside pairs; operation counts; the section of every stored analysis, written
by the analysis itself onto a :class:`ReportPage` (:data:`neurosim.analysis.registry.STUDIES`, in
that order); first-layer weights; provenance and, collapsed, the resolved config. Figures are PNG
files beside the report, which the HTML embeds by relative path. Imports no model code
(``tests/test_report_imports.py``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from neurosim.analysis.registry import STUDIES
from neurosim.analysis.statistics import format_accuracy
from neurosim.errors import UserError
from neurosim.options import checked_names
from neurosim.pairs import PAIRS, stored_controls, stored_pair_members
from neurosim.report import figures
from neurosim.report.budgets import budget_table
from neurosim.report.document import Document, Table
from neurosim.report.paired import (
    PAIRED_HEADER,
    PairedComparison,
    family_note,
    mcnemar_family_size,
    paired_comparisons,
    paired_row,
)
from neurosim.report.summary import summary_notes, summary_rows, write_summary
from neurosim.report.validity import describe_divergence, unlearnt_seeds, validity_warnings
from neurosim.results.predictions import n_test_images
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


def member_role(results: xr.Dataset, member: str, controls: Collection[str] = ()) -> str:
    """``control`` for a member in ``controls`` (:func:`neurosim.pairs.stored_controls`), else its
    stored role (``bio``, ``twin``, ``reference``)."""
    return "control" if member in controls else str(results.role.sel(model=member).values)


def _member_row(results: xr.Dataset, member: str, controls: Collection[str] = ()) -> list[str]:
    """A member's row of a pair's table; ``controls``: the members named ``control`` in it."""
    trainable = int(results.n_parameters_trainable.sel(model=member).values[0])
    fixed = int(results.n_parameters_fixed.sel(model=member).values[0])
    divergence = describe_divergence(results, member)
    if divergence:  # a failed optimisation is not a result: no numbers
        final = after_one_epoch = f"DIVERGED ({divergence})"
    else:
        n_test = n_test_images(results)
        final = format_accuracy(results.final_test_accuracy.sel(model=member).values, n_test)
        after_one_epoch = format_accuracy(_after_one_epoch(results, member), n_test)
        unlearnt = unlearnt_seeds(results, member)
        if unlearnt:  # measured, but the rule did not learn: said beside the number
            final += f" (DID NOT LEARN in seeds {', '.join(map(str, unlearnt))})"
    return [
        member,
        member_role(results, member, controls),
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


def _introduction(
    doc: Document,
    run_dir: Path,
    results: xr.Dataset,
    comparisons: list[PairedComparison],
    stored: dict[str, xr.Dataset | None],
) -> None:
    """Title, the summary table, then description, task and seeds, and the warnings about the
    results' validity."""
    doc.heading(f"neurosim report: {results.attrs['comparison']}", 1)
    rows = summary_rows(run_dir, results, comparisons, STUDIES, stored)
    write_summary(doc, rows, summary_notes(results, comparisons), results.sizes["seed"], run_dir)
    doc.heading("What was compared")
    doc.paragraph(results.attrs.get("description", ""))
    seeds = ", ".join(str(int(s)) for s in results.seed.values)
    doc.paragraph(
        f"Task: {results.attrs['task']} ({results.attrs.get('task_description', '')}). "
        f"Seeds: {seeds}. Accuracy intervals are 95 % two-level bootstrap intervals over seeds and "
        f"test images ({n_test_images(results)}); paired comparisons match the bio model with its "
        "twin seed by seed (same data order)."
    )
    doc.paragraph(family_note(comparisons))
    warnings = validity_warnings(results, stored_pair_members(results.attrs))
    if warnings:
        doc.heading("Warnings")
        for warning in warnings:
            doc.paragraph("WARNING: " + warning)


def _class_names(results: xr.Dataset, fits: dict[str, xr.Dataset]) -> list[str]:
    """The task's class names as the results (or, stored before, the fits) carry them, else the
    class indices."""
    for source in (results.get("class_true"), next(iter(fits.values()))):
        names = json.loads(source.attrs.get("class_names", "[]")) if source is not None else []
        if names:
            return [str(name) for name in names]
    return [str(i) for i in range(results.sizes["class_true"])]


def _pair_sections(
    doc: Document,
    results: xr.Dataset,
    comparisons: list[PairedComparison],
    class_names: list[str],
    figure_dir: Path,
) -> None:
    """Per pair: its members' table, their budgets, the paired comparisons of the bio model with
    each twin, the learning curves and the confusion matrices; then the reference models (outside
    every pair)."""
    groups, controls = dict(stored_pair_members(results.attrs)), stored_controls(results.attrs)
    for pair_name, pair_members in groups.items():
        pair = PAIRS.get(pair_name)
        doc.heading(f"Pair {pair_name}: held equal: {pair.held_equal}")
        doc.paragraph(pair.description)
        doc.table(Table(MEMBER_HEADER, [_member_row(results, m, controls) for m in pair_members]))
        _budgets(doc, results, pair_members)
        family = mcnemar_family_size(comparisons)
        rows = [paired_row(results, c, family) for c in comparisons if c.pair == pair_name]
        doc.table(Table(PAIRED_HEADER, rows, compact=True))
        _pair_figures(doc, results, pair_members, pair_name, class_names, figure_dir)
    paired = {m for members in groups.values() for m in members}
    references = [str(m) for m in results.model.values if str(m) not in paired]
    if references:
        doc.heading("Reference models")
        doc.table(Table(MEMBER_HEADER, [_member_row(results, m) for m in references]))
        _pair_figures(doc, results, references, "references", class_names, figure_dir)


def _budgets(doc: Document, results: xr.Dataset, members: list[str]) -> None:
    """The budgets the pair's members were actually given (:mod:`neurosim.report.budgets`), and
    which of them are matched, as a sentence under the table."""
    header, rows = budget_table(results, members[0], members[1:])
    matched = [row for row in rows if row[0] == "matched"]
    doc.paragraph("Budgets actually given (labelled samples, passes, optimiser steps, unlabelled images):")
    doc.table(Table(list(header), [row for row in rows if row[0] != "matched"], compact=True))
    if matched:
        doc.paragraph(f"Budgets {matched[0][1]}.")


def _pair_figures(
    doc: Document,
    results: xr.Dataset,
    members: list[str],
    name: str,
    class_names: list[str],
    figure_dir: Path,
) -> None:
    """A group's learning curves and its members' confusion matrices side by side."""
    doc.figure(
        figures.learning_curves(results, members, name, figure_dir / f"curve_{name}.png"),
        f"{name}: test accuracy vs. training samples seen (mean over seeds, 95 % t-interval band, "
        "clipped to [0, 1])",
    )
    doc.figure(
        figures.pair_confusions(results, members, class_names, figure_dir / f"confusion_{name}.png"),
        f"{name}: test confusion matrices (all seeds), each row normalised to its true class",
    )


def _study_sections(page: ReportPage, results: xr.Dataset, stored: dict[str, xr.Dataset | None]) -> None:
    """The section of every analysis stored in the run, in registry order (an analysis that was
    never run has no section)."""
    for study in STUDIES:
        result = stored.get(study.name)
        if result is not None and study.section is not None:
            study.section(page, result, results)


def _closing_sections(
    doc: Document, results: xr.Dataset, fits: dict[str, xr.Dataset], figure_dir: Path
) -> None:
    """First-layer weights (first seed), provenance and the resolved config (collapsed)."""
    doc.heading(f"First-layer weights (seed {int(results.seed.values[0])})")
    for member, fit in fits.items():
        doc.figure(
            figures.first_layer_weights(fit, figure_dir / f"weights_{member}.png"),
            f"{member}: weights from the input to the first units",
        )
    doc.heading("Provenance")
    doc.table(Table(["attribute", "value"], [[k, str(results.attrs.get(k, ""))] for k in PROVENANCE_SHOWN]))
    config = json.dumps(json.loads(results.attrs["config"]), indent=2, sort_keys=True)
    doc.collapsed("Resolved configuration (JSON, as config.json in the run folder)", config)


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
    first_seed = int(results.seed.values[0])
    fits = {m: open_dataset(run_dir / "fits" / m / f"seed{first_seed}.nc") for m in members}
    stored = {study.name: study.stored(run_dir) for study in STUDIES}  # read once: summary and sections
    comparisons = paired_comparisons(results, stored_pair_members(results.attrs))

    doc = Document()
    _introduction(doc, run_dir, results, comparisons, stored)
    _pair_sections(doc, results, comparisons, _class_names(results, fits), figure_dir)
    doc.heading("Operations per inference (exact counts)")
    if "total_dense_macs" not in results:
        doc.paragraph("These results were stored before operation counts existed; rerun to add them.")
    else:
        _operations_section(doc, results, fits, members)
    _study_sections(ReportPage(doc, figure_dir), results, stored)
    _closing_sections(doc, results, fits, figure_dir)
    return doc.write(out, f"neurosim: {results.attrs['comparison']}")
