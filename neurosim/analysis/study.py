"""What a study of stored runs is: its computation, its stored result and its report section, in one
registered object (:class:`Analysis`), so that an analysis is one module.

A study loads a finished run's fitted models, computes one ``xr.Dataset`` and stores it as
``analyses/<name>.nc`` (:func:`Analysis.compute`, ``neurosim analyse RUN_DIR --analyses NAME``).
The report (:mod:`neurosim.report.build`) reads that file back (:meth:`Analysis.stored`) and asks
the study to write its section (:attr:`Analysis.section`) onto a :class:`Page`, which the report
implements. Two rules keep the layers pointing one way (report -> analysis -> models):

* a section writes only through :class:`Page`, so a study never imports the report;
* a study's module imports model and run-loading code (``neurosim.run_loading``,
  ``neurosim.metrics``, ...) only inside its compute function, and the model type only for
  annotations, so the report imports every section without loading any model code
  (``tests/test_report_imports.py``).

Registered in :mod:`neurosim.analysis.registry`, whose order is the order of the report's sections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import xarray as xr

from neurosim.analysis.stored_run import stored_analysis
from neurosim.pairs import group_by_pair, stored_pair_members

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class Page(Protocol):
    """The part of a report a study's section writes to (the report's document and figure folder).

    Texts are plain (the report escapes them); figures are PNG files beside the report.
    """

    def heading(self, text: str, level: int = 2) -> None:
        """A heading; ``level`` 2 is a section, 3 and 4 its subsections."""

    def paragraph(self, text: str) -> None:
        """A paragraph of text."""

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table: column names and rows of cell texts (one per column)."""

    def figure(self, figure: Figure, name: str, caption: str, tight: bool = True) -> None:
        """Save ``figure`` as ``figures/<name>`` (PNG, the report's resolution; ``tight``: tight
        layout first) and show it with ``caption``."""


class Table(NamedTuple):
    """A table a section computes before writing it (``page.table(*table)``)."""

    header: list[str]
    rows: list[list[str]]


#: ``(run_dir, n_stimuli) -> result``: runs the stored models, stores ``analyses/<name>.nc``
#: atomically and returns it. ``n_stimuli``: the first test images used as stimuli (count).
Compute = Callable[[str | Path, int], xr.Dataset]
#: ``(page, stored result, the run's results.nc) -> None``: writes the study's report section.
Section = Callable[[Page, xr.Dataset, xr.Dataset], None]


@dataclass(frozen=True)
class SummaryCell:
    """One cell of the report's summary table (one row per pair): a bio model against its twin on
    one measure, with the effect size and its confidence interval.

    Attributes:
        column: the table's column, e.g. ``"noise robustness (AUC)"``; cells of the same column
            from different pairs line up.
        bio: the bio member's value as text, e.g. ``"0.71 [0.69, 0.73]"``.
        twin: the twin's value as text.
        difference: the effect size and its CI as text, e.g. ``"+0.05 [+0.02, +0.08]"`` (bio -
            twin) or ``"x0.31 [0.29, 0.33]"`` (bio / twin); say which in ``column`` or the text.
        better: ``"bio"`` or ``"twin"`` when the interval excludes no difference, ``None`` when
            it does not (no decision) or the measure has no better direction.
        what: an adjective phrase for the row's sentence, read after "more" or "less", e.g.
            ``"robust to Gaussian noise"`` ("the bio model is more robust to Gaussian noise");
            empty for a measure without a better direction (a similarity of the two members),
            which the sentence states as its value (:mod:`neurosim.report.verdicts`).
    """

    column: str
    bio: str
    twin: str
    difference: str
    better: str | None
    what: str


#: ``(stored result, the run's results.nc, bio member, twin member) -> cells``: the study's cells of
#: the pair's summary row (empty when the study has nothing for this pair).
Summarise = Callable[[xr.Dataset, xr.Dataset, str, str], list[SummaryCell]]


@dataclass(frozen=True)
class Analysis:
    """One study of stored runs, as ``neurosim analyse`` and the report see it.

    Attributes:
        name: registry key (lower_snake); the result is stored as ``analyses/<name>.nc``.
        description: one line for ``neurosim analyse --help`` (what it measures).
        compute: see :data:`Compute`; imports model code lazily (module docstring).
        section: see :data:`Section`; ``None`` for a study without a report section.
        extra: the package extra it needs (:mod:`neurosim.extras`), checked before a run trains.
        summary: see :data:`Summarise`; the study's cells of the report's summary table, or
            ``None`` for a study that adds none.
        options: the keyword arguments of ``compute`` that the command line may set (e.g.
            ``labels_per_class``, ``neurosim analyse --labels-per-class``); an option given on
            the command line reaches only the studies that name it here.
    """

    name: str
    description: str
    compute: Compute
    section: Section | None = None
    extra: str | None = None
    summary: Summarise | None = None
    options: tuple[str, ...] = ()

    def stored(self, run_dir: str | Path) -> xr.Dataset | None:
        """The stored result of this study in ``run_dir``, or ``None`` if it was never run."""
        return stored_analysis(run_dir, self.name)


def pair_groups(stored: xr.Dataset) -> list[list[str]]:
    """The members of a stored result grouped by pair (bio first), then every unpaired member alone."""
    return group_by_pair(stored_pair_members(stored.attrs), [str(m) for m in stored.model.values])


def figure_per_group(
    page: Page,
    stored: xr.Dataset,
    draw: Callable[[xr.Dataset, list[str], str], Figure],
    name: str,
    caption: str,
) -> None:
    """One figure per group of :func:`pair_groups`: ``draw(stored, group, title)`` saved as
    ``<name>_<members>.png`` with the caption ``"<title>: <caption>"`` (title: ``"a vs. b"``)."""
    for group in pair_groups(stored):
        title = " vs. ".join(group)
        page.figure(draw(stored, group, title), f"{name}_{'_'.join(group)}.png", f"{title}: {caption}")
