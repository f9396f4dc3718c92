"""The published V1 distribution of orientation selectivity that models' units are compared with,
and the distance between a model's distribution and it.

Reference: Ringach, Shapley & Hawken (2002), J. Neurosci. 22:5639, macaque V1, summarised in the
package data file ``neurosim/analysis/data/ringach2002.json`` (sources and what could not be
sourced: docs/references/ringach2002.md). The paper measures each cell's circular variance
``CV = 1 - |sum_k R(t_k) exp(2 i t_k)| / sum_k R(t_k)``; neurosim's OSI is ``1 - CV`` (the same
doubled-angle form, :mod:`neurosim.analysis.orientation`), so a unit's ``CV = 1 - OSI``.

The reference is a distribution of CV on [0, 1] given as a histogram (bin ``edges`` ``[B + 1]``,
``fractions`` ``[B]``, uniform within a bin), so its CDF ``F_ref`` is piecewise linear. Where the
file holds the published histogram, that is it; where it does not (``histogram: null``, the case
today: its values were not found in the material searched), the file's stand-in is used, the
uniform distribution on [0, 1] (the published shape "broad over [0, 1]" at its broadest), and
:attr:`CVReference.label` says so wherever the distance is shown.

Distance (:func:`ks_distance`): the one-sample Kolmogorov-Smirnov statistic between the units'
CVs ``c_1..c_n`` (empirical CDF ``F_n``) and the reference::

    D = sup_c |F_n(c) - F_ref(c)|      (scipy.stats.kstest; in [0, 1], 0 = the same distribution)

A distribution-free distance on the whole shape, as Marques, Schrimpf & DiCarlo (2021) use for
their Brain-Score V1 property benchmarks. For the uniform stand-in, ``D`` is how far the units
are from spreading evenly over [0, 1]: all units at one CV give ``D = max(c, 1 - c)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import stats

from neurosim.errors import UserError

REFERENCE_FILE = "ringach2002.json"


@dataclass(frozen=True)
class CVReference:
    """A reference distribution of circular variance on [0, 1].

    Attributes:
        short: the source, short (``"Ringach et al. 2002"``).
        citation: the full citation.
        edges: bin edges ``[B + 1]``, increasing from 0 to 1.
        fractions: fraction of cells per bin ``[B]``, summing to 1.
        published: whether ``edges``/``fractions`` are the published histogram (``False``: the
            file's stand-in for the published shape).
        where: where the histogram comes from (a figure of the paper, or the stand-in's reason).
    """

    short: str
    citation: str
    edges: tuple[float, ...]
    fractions: tuple[float, ...]
    published: bool
    where: str

    @property
    def label(self) -> str:
        """How the reference is named beside a distance to it."""
        if self.published:
            return f"{self.short} CV histogram ({self.where})"
        return f"uniform CV on [0, 1], a stand-in for the broad CV distribution of {self.short}"

    @property
    def short_label(self) -> str:
        """:attr:`label`, short (a table's column)."""
        return self.short if self.published else f"a uniform stand-in for {self.short}"

    def cdf(self, cv: np.ndarray | float) -> np.ndarray:
        """``F_ref(cv)``: the fraction of reference cells with CV <= ``cv`` (piecewise linear)."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.fractions)])
        return np.interp(cv, self.edges, cumulative)

    def bin_fractions(self, bins: np.ndarray) -> np.ndarray:
        """The reference's fraction of cells in each bin of ``bins`` (edges ``[K + 1]`` over [0, 1])."""
        return np.diff(self.cdf(bins))


def _histogram(edges: list[float], fractions: list[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Checked ``(edges, fractions)``; UserError naming what is wrong."""
    e, f = np.asarray(edges, dtype=float), np.asarray(fractions, dtype=float)
    if len(e) != len(f) + 1 or len(f) < 1:
        raise UserError(
            f"{REFERENCE_FILE}: histogram needs one more edge than fractions, got {len(e)} and {len(f)}"
        )
    if e[0] != 0.0 or e[-1] != 1.0 or np.any(np.diff(e) <= 0):
        raise UserError(f"{REFERENCE_FILE}: histogram edges must increase from 0 to 1, got {edges}")
    if np.any(f < 0) or abs(f.sum() - 1.0) > 1e-3:
        raise UserError(f"{REFERENCE_FILE}: histogram fractions must be >= 0 and sum to 1, got {fractions}")
    return tuple(e.tolist()), tuple((f / f.sum()).tolist())


def parse_reference(data: dict) -> CVReference:
    """The :class:`CVReference` of a reference file's contents (published histogram, else stand-in)."""
    histogram = data.get("histogram")
    if histogram is not None:
        edges, fractions = _histogram(histogram["edges"], histogram["fractions"])
        where = str(histogram["where"])
    else:
        stand_in = data["stand_in"]
        if stand_in.get("kind") != "uniform" or (stand_in["low"], stand_in["high"]) != (0.0, 1.0):
            raise UserError(f"{REFERENCE_FILE}: the stand-in must be uniform on [0, 1], got {stand_in}")
        edges, fractions, where = (0.0, 1.0), (1.0,), str(stand_in["why"])
    return CVReference(
        short=str(data["short"]),
        citation=str(data["citation"]),
        edges=edges,
        fractions=fractions,
        published=histogram is not None,
        where=where,
    )


def load_reference() -> CVReference:
    """The shipped reference (``neurosim/analysis/data/ringach2002.json``)."""
    text = resources.files("neurosim.analysis").joinpath("data").joinpath(REFERENCE_FILE).read_text()
    return parse_reference(json.loads(text))


def ks_distance(cv: np.ndarray, reference: CVReference) -> float:
    """``sup |F_n - F_ref|`` of the finite values of ``cv`` against ``reference``; NaN for none."""
    values = np.asarray(cv, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan")
    return float(stats.kstest(values, reference.cdf).statistic)
