"""The report's view of the orientation analysis (:mod:`neurosim.analysis.orientation`): a table per
member (OSI and the distance of its circular-variance distribution from the V1 reference), a
histogram of circular variance per pair over the reference's, and the pair's summary cell
("V1-likeness", bio vs. twin, paired over seeds).

Reads the stored result only (no model code): dims and attributes as
:mod:`neurosim.analysis.orientation` stores them; the reference as
:mod:`neurosim.analysis.v1_reference` ships it.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis.statistics import better_member, mean_ci, paired_difference
from neurosim.analysis.study import Page, SummaryCell, pair_groups
from neurosim.analysis.v1_reference import load_reference

#: Bins of the circular-variance histograms (width 0.05).
CV_BINS = np.linspace(0.0, 1.0, 21)


def summary_column(orientation: xr.Dataset) -> str:
    """The summary table's column, naming the reference the distances were measured to."""
    reference = orientation.attrs.get("reference_short", "Ringach et al. 2002")
    return f"V1-likeness (KS distance of circular variance to {reference}; lower is closer)"


def reference_is_published(orientation: xr.Dataset) -> bool:
    """Whether the distances were measured to the published histogram, not the stand-in (results
    stored before the attribute existed say so in their reference's name)."""
    if "reference_published" in orientation.attrs:
        return bool(orientation.attrs["reference_published"])
    return "stand-in" not in str(orientation.attrs.get("reference_short", "stand-in"))


def _excluded(orientation: xr.Dataset, member: str) -> str:
    return str(orientation.attrs.get(f"excluded__{member}", ""))


def bounded_mean_ci(values: np.ndarray, low: float = 0.0, high: float = 1.0) -> str:
    """``mean [low, high]`` over seeds (:func:`~neurosim.analysis.statistics.mean_ci`, NaNs left
    out) with the t-interval clipped to the quantity's range ``[low, high]`` (OSI, fractions and KS
    distances lie in [0, 1]; with 2-3 seeds a t-interval runs far past them)."""
    summary = mean_ci(values)
    if math.isnan(summary.low):
        return f"{summary.mean:.4f} (n={summary.n})"
    return f"{summary.mean:.4f} [{max(summary.low, low):.4f}, {min(summary.high, high):.4f}]"


def cv_histograms(orientation: xr.Dataset, members: list[str], title: str) -> Figure:
    """Circular variance (``1 - OSI``) of the first-layer units of each member (all seeds pooled) as
    the fraction of responsive units per bin, over the reference's fraction of cells per bin."""
    reference = load_reference()
    figure = Figure(figsize=(5.6, 3.6))
    axis = figure.subplots()
    centres, width = (CV_BINS[:-1] + CV_BINS[1:]) / 2, np.diff(CV_BINS)
    axis.bar(
        centres,
        reference.bin_fractions(CV_BINS),
        width=width,
        color="0.85",
        label=f"V1: {reference.short_label}",
    )
    for member in members:
        values = 1 - orientation.osi.sel(model=member).values.ravel()
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        layer = orientation.attrs.get(f"layer__{member}", "")
        axis.hist(
            values,
            bins=CV_BINS.tolist(),
            weights=np.full(len(values), 1 / len(values)),
            histtype="step",
            linewidth=1.5,
            label=f"{member} ({layer}; median CV {np.median(values):.2f})",
        )
    axis.set_xlabel("circular variance (1 - OSI)")
    axis.set_ylabel("fraction of units (cells)")
    axis.set_xlim(0, 1)
    axis.set_title(title, fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=6)
    return figure


def _member_row(orientation: xr.Dataset, member: str) -> list[str]:
    """One row of the section's table (see :func:`orientation_section`)."""
    layer = str(orientation.attrs.get(f"layer__{member}", ""))
    excluded = _excluded(orientation, member)
    if excluded:
        return [member, layer, "", "", "", "", f"excluded ({excluded})"]
    osi = orientation.osi.sel(model=member).values  # [seed, unit]
    distance = orientation.cv_distance.sel(model=member).values  # [seed]
    return [
        member,
        layer,
        f"{orientation.attrs.get(f'responsive__{member}', float('nan')):.3f}",
        bounded_mean_ci(np.nanmedian(osi, axis=1)),
        bounded_mean_ci(np.array([np.mean(row[~np.isnan(row)] > 0.5) for row in osi])),
        bounded_mean_ci(distance),
        "",
    ]


def orientation_section(page: Page, orientation: xr.Dataset, results: xr.Dataset) -> None:
    """The section: how it is measured, a table per member, a histogram per pair (``results``, the
    run's results, are not needed)."""
    page.heading("Orientation tuning of the first layer (gratings; stored models)")
    error = orientation.attrs.get("orientation_error_max_deg", float("nan"))
    page.paragraph(
        f"Stimuli: {orientation.attrs['stimuli']}; the orientation each grating's pixels carry, fitted "
        f"back, is at most {error:.2g} degrees from the one drawn (no aliasing). A unit's response is its "
        "rectified output at the model's first probe point after a nonlinearity (the centre position of "
        "a convolutional layer); its tuning curve is the mean over phases at its preferred period, and "
        "OSI = 1 - circular variance (CV; Ringach et al. 2002). A class readout (a layer whose units are "
        "the model's class scores, such as the perceptron's only layer) is no V1 analogue and is left "
        "out. Unresponsive units (no grating drives them) have no OSI."
    )
    reference, citation = (
        orientation.attrs.get("reference", ""),
        orientation.attrs.get("reference_citation", ""),
    )
    page.paragraph(
        f"V1 reference: {reference} ({citation}; "
        "docs/references/ringach2002.md). Distance: the Kolmogorov-Smirnov statistic sup |F_units - F_V1| "
        "between the CDF of a seed's unit CVs and the reference's, 0 for the same distribution, 1 at most; "
        "mean [95 % t-interval, clipped to [0, 1]] over seeds."
    )
    rows = [_member_row(orientation, str(member)) for member in orientation.model.values]
    header = [
        "model",
        "layer",
        "responsive units",
        "median OSI",
        "fraction with OSI > 0.5",
        "KS distance to V1",
        "note",
    ]
    page.table(header, rows)
    for group in pair_groups(orientation):
        if all(_excluded(orientation, member) for member in group):
            continue
        title = " vs. ".join(group)
        page.figure(
            cv_histograms(orientation, group, title),
            f"cv_{'_'.join(group)}.png",
            f"{title}: circular variance of first-layer units (all seeds) over the V1 reference",
        )


def orientation_summary(
    orientation: xr.Dataset, results: xr.Dataset, bio: str, twin: str
) -> list[SummaryCell]:
    """The pair's summary cell: each member's KS distance to the V1 reference (mean [95 % CI] over
    seeds) and the paired difference bio - twin over matched seeds (lower is closer to V1); none
    when a member is excluded (a class readout) or has no responsive unit (``results`` unused).
    Against the stand-in reference no member is called more V1-like: the cell states the numbers
    and says the reference carries no claim."""
    if _excluded(orientation, bio) or _excluded(orientation, twin):
        return []
    a = orientation.cv_distance.sel(model=bio).values
    b = orientation.cv_distance.sel(model=twin).values
    difference = paired_difference(a, b)
    if difference.n == 0:
        return []
    # The difference of two distances in [0, 1] lies in [-1, 1]; the t-interval is clipped to it.
    low, high = max(difference.low, -1.0), min(difference.high, 1.0)
    interval = "" if math.isnan(difference.low) else f" [{low:+.3f}, {high:+.3f}]"
    effect = f"{difference.mean:+.3f}{interval} (bio - twin, n={difference.n})"
    published = reference_is_published(orientation)
    return [
        SummaryCell(
            column=summary_column(orientation),
            bio=bounded_mean_ci(a),
            twin=bounded_mean_ci(b),
            difference=effect if published else f"{effect}; no claim: the reference is a stand-in",
            better=better_member(difference, higher_is_better=False) if published else None,
            what="V1-like in orientation selectivity (closer to macaque V1's circular-variance distribution)"
            if published
            else "",
        )
    ]
