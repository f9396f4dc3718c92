"""The summary at the top of a run's report: one table, one row per bio model and twin, that says
which member is better on what, with what certainty.

A row's cells (:class:`~neurosim.analysis.study.SummaryCell`): final test accuracy, from
``results.nc`` (each member's mean and two-level bootstrap interval over seeds and test images,
:func:`~neurosim.analysis.statistics.accuracy_interval`; the effect, bio - twin in percentage
points with its interval, :func:`~neurosim.analysis.statistics.accuracy_difference`), then the
cells of every registered study's ``summary`` hook (:data:`neurosim.analysis.registry.STUDIES`,
in registry order): accuracy at few labels, energy, robustness, similarity to the twin, as the
studies provide them. Studies with a hook whose result is not stored are named in a last "not
run" column by the command that computes them. A cell names a better member only when its interval
excludes no difference (:func:`~neurosim.analysis.statistics.better_member`); the HTML colours
it (green: bio better, orange: twin better).

Under each row, a sentence (:mod:`neurosim.report.verdicts`); under the table, the seeds and
their degrees of freedom, which intervals are used, and the members whose numbers are not results
(:mod:`neurosim.report.validity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

from neurosim.analysis.statistics import CLAIM_SEEDS, accuracy_interval, better_member, dof_note
from neurosim.analysis.study import Analysis, SummaryCell
from neurosim.pairs import stored_controls
from neurosim.report.document import Document, Table
from neurosim.report.paired import PairedComparison, family_text, points
from neurosim.report.validity import describe_divergence, describe_unlearnt, unlearnt_seeds
from neurosim.report.verdicts import row_sentence
from neurosim.results.predictions import n_test_images

#: The summary's column of final test accuracy (the cells of results.nc).
ACCURACY_COLUMN = "test accuracy (full training set)"

#: What each cell's lines are: the bio member's value, the twin's, the effect and the verdict.
CELL_LINES = "bio / twin / effect (bio - twin, or bio / twin) [95 % CI] / verdict"


@dataclass(frozen=True)
class SummaryRow:
    """One bio member against one twin: its cells by column, and the studies not run.

    Attributes:
        pair: the pair's name.
        bio, twin: the members.
        cells: the cells of results.nc and of the stored studies, in column order.
        not_run: the studies with a summary whose result is not stored (registry names).
        flags: the members' validity remarks (diverged, did not learn), for the row's label.
        control: the twin is the pair's unsupervised control (:func:`neurosim.pairs.stored_controls`),
            so the label says so.
    """

    pair: str
    bio: str
    twin: str
    cells: list[SummaryCell]
    not_run: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    control: bool = False


def _member_accuracy(results: xr.Dataset, member: str, n_test: int) -> str:
    summary = accuracy_interval(results.final_test_accuracy.sel(model=member).values, n_test)
    return f"{summary.mean:.3f} [{summary.low:.3f}, {summary.high:.3f}]"


def accuracy_cell(results: xr.Dataset, comparison: PairedComparison) -> SummaryCell:
    """The final test accuracy cell of a comparison: each member's mean [95 % CI] over seeds and
    test images, and the difference in points with its CI (``not tested`` when a member diverged)."""
    n_test = n_test_images(results)
    bio, twin = (
        "DIVERGED" if describe_divergence(results, m) else _member_accuracy(results, m, n_test)
        for m in (comparison.bio, comparison.twin)
    )
    if comparison.difference is None:  # no direction to decide: the sentence states why
        return SummaryCell(ACCURACY_COLUMN, bio, twin, f"not tested: {comparison.reason}", None, "")
    return SummaryCell(
        ACCURACY_COLUMN,
        bio,
        twin,
        f"{points(comparison.difference)} points",
        better_member(comparison.difference, higher_is_better=True),
        "accurate",
    )


def _flags(results: xr.Dataset, bio: str, twin: str) -> list[str]:
    flags = [f"{m} DIVERGED" for m in (bio, twin) if describe_divergence(results, m)]
    for member in (bio, twin):
        seeds = unlearnt_seeds(results, member)
        if seeds:
            flags.append(
                f"{member} DID NOT LEARN (seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))})"
            )
    return flags


def summary_rows(
    run_dir: Path,
    results: xr.Dataset,
    comparisons: list[PairedComparison],
    studies: Sequence[Analysis],
    stored: dict[str, xr.Dataset | None],
) -> list[SummaryRow]:
    """A row per comparison: accuracy, then the cells of every study with a summary hook
    (``stored``: each study's stored result by name, ``None`` when it was not run)."""
    rows, controls = [], stored_controls(results.attrs)
    for comparison in comparisons:
        bio, twin = comparison.bio, comparison.twin
        cells, not_run = [accuracy_cell(results, comparison)], []
        for study in studies:
            if study.summary is None:
                continue
            result = stored.get(study.name)
            if result is None:
                not_run.append(study.name)
            else:
                cells += study.summary(result, results, bio, twin)
        flags, control = _flags(results, bio, twin), twin in controls
        rows.append(SummaryRow(comparison.pair, bio, twin, cells, not_run, flags, control))
    return rows


def _columns(rows: list[SummaryRow]) -> list[str]:
    """Every column of the rows' cells, in first-seen order (accuracy first)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(cell.column for cell in row.cells))
    return list(columns)


def _cell_text(cell: SummaryCell) -> str:
    """A cell's lines: ``bio <value>``, ``twin <value>``, the effect, the verdict."""
    verdict = {"bio": "bio better", "twin": "twin better"}.get(cell.better or "", "")
    if not verdict and cell.what:
        verdict = "no decision"
    lines = (f"bio {cell.bio}", f"twin {cell.twin}", cell.difference, verdict)
    return "\n".join(line for line in lines if line)


def summary_table(rows: list[SummaryRow], seeds: int, run_dir: Path) -> Table:
    """The summary table: a row per comparison (label, a cell per column, then the studies not run
    with the command that computes them), and its sentence under it. Marks: the better member's
    CSS class on a cell, ``wrap`` on cells of running text, ``command`` on the commands."""
    columns = _columns(rows)
    not_run = any(row.not_run for row in rows)
    body, marks = [], []
    for row in rows:
        cells = {cell.column: cell for cell in row.cells}
        twin = f"{row.twin} (control)" if row.control else row.twin
        label = "\n".join([f"{row.bio} vs. {twin}", f"({row.pair})", *row.flags])
        texts = [label, *(_cell_text(cells[c]) if c in cells else "n/a" for c in columns)]
        row_marks = ["wrap", *(cells[c].better or "" if c in cells else "" for c in columns)]
        if not_run:
            texts.append(
                f"neurosim analyse {run_dir} --analyses {' '.join(row.not_run)}" if row.not_run else ""
            )
            row_marks.append("wrap command")
        body.append(texts)
        marks.append(row_marks)
    header = [
        "bio vs. twin (pair)",
        *columns,
        *(["not run: the command that computes it"] if not_run else []),
    ]
    notes = [row_sentence(row.bio, row.twin, row.cells, seeds) for row in rows]
    return Table(header, body, notes=notes, marks=marks, compact=True)


def summary_notes(results: xr.Dataset, comparisons: list[PairedComparison]) -> list[str]:
    """The paragraphs under the summary table: seeds and degrees of freedom, the intervals, the
    members whose numbers are not results."""
    n = results.sizes["seed"]
    seeds = ", ".join(str(int(s)) for s in results.seed.values)
    grade = "" if n >= CLAIM_SEEDS else " Not claim-grade: read the verdicts as indications."
    notes = [
        f"Seeds: {seeds} ({dof_note(n)}).{grade}",
        f"Each cell: {CELL_LINES}. Accuracies: mean over seeds with a 95 % two-level bootstrap "
        "interval over seeds and test images; their difference is bootstrapped on matched seeds. "
        "Other columns use the interval their study states (a t-interval of the paired difference, "
        "or of the log ratio for energy). A member is called better only when the 95 % interval "
        "of the effect excludes no difference; otherwise: no decision. P-values of the paired tests "
        f"(pair sections): {family_text(comparisons)}. Why these intervals: docs/statistics.md.",
    ]
    members = [str(m) for m in results.model.values]
    remarks = [f"{m} {describe_divergence(results, m)}" for m in members if describe_divergence(results, m)]
    remarks += [f"{m} {describe_unlearnt(results, m)}" for m in members if describe_unlearnt(results, m)]
    if remarks:
        notes.append(
            "Not results: " + "; ".join(remarks) + ". A diverged member is not compared; a member "
            "that did not learn is compared, but the difference measures that failure, not its rule."
        )
    return notes


def write_summary(doc: Document, rows: list[SummaryRow], notes: list[str], seeds: int, run_dir: Path) -> None:
    """The summary section: heading, table (sentences under the rows), then ``notes``."""
    doc.heading("Summary: each bio model against its twin")
    doc.table(summary_table(rows, seeds, run_dir))
    for note in notes:
        doc.paragraph(note)
