"""Report of a sweep directory: accuracy across each grid dimension, sample-efficiency summaries
(when labels per class is a grid dimension), cell status, provenance.

For every grid dimension, one figure draws the final test accuracy of every model against that
dimension's values (mean over seeds, 95 % band of
:func:`~neurosim.analysis.statistics.accuracy_interval`: a bootstrap over seeds and test images,
within [0, 1]), one line per model and per combination of the other grid dimensions. A table
lists every cell's status and error, so failed cells are visible in the report.

When the labelled subset is drawn with each fit's seed (``task.subset_seed = "seed"``, read from
the cells' ``labelled_subset_seed``), the spread over seeds includes which examples were
labelled, and the report says so; with a fixed draw it says that it does not. The paired tests of
normalised AUC (bio - twin) give the difference's t-interval, the raw p and the Holm-adjusted p
over the table's family (every bio-twin row at every combination of the other grid dimensions),
and the degrees of freedom.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from neurosim.analysis.sample_efficiency import labels_to_reach, normalised_auc
from neurosim.analysis.statistics import (
    CLAIM_SEEDS,
    accuracy_interval,
    dof_note,
    format_accuracy,
    format_mean_ci,
    holm_adjusted,
    paired_difference,
    paired_test,
)
from neurosim.options import checked_names
from neurosim.pairs import group_by_pair, stored_pair_members
from neurosim.report.document import Document, Table
from neurosim.results.predictions import n_test_images
from neurosim.results.storage import open_dataset

LOG_SCALE_DIMS = ("n_per_class", "lr", "weight_decay", "n_association_units")


def grid_dims(sweep: xr.Dataset) -> list[str]:
    """The sweep's grid dimensions other than ``seed``."""
    return [d for d in json.loads(sweep.attrs["grid_dims"]).values() if d != "seed"]


def model_groups(sweep: xr.Dataset) -> list[list[str]]:
    """The sweep's models grouped by pair (bio first, then its twins), then the unpaired ones
    together (one group of every model when the sweep records no pairs)."""
    models = [str(m) for m in sweep.model.values]
    return group_by_pair(stored_pair_members(sweep.attrs), models, unpaired_together=True)


def accuracy_vs_dimension(sweep: xr.Dataset, dim: str, path: Path, models: list[str] | None = None) -> Path:
    """Final test accuracy against ``dim`` for every model (default: all; and other-dimension
    combination)."""
    others = [d for d in grid_dims(sweep) if d != dim]
    figure, axis = plt.subplots(figsize=(6.6, 4.2))
    values = sweep[dim].values
    numeric = np.issubdtype(values.dtype, np.number)
    x = values if numeric else np.arange(len(values))
    for model in models or sweep.model.values:
        for combination in itertools.product(*(sweep[o].values for o in others)):
            selection = dict(zip(others, combination, strict=True)) | {"model": model}
            accuracy = sweep.final_test_accuracy.sel(selection).transpose(dim, "seed").values
            n_test = n_test_images(sweep.sel(selection))
            summaries = [accuracy_interval(row, n_test) for row in accuracy]
            mean = np.array([s.mean for s in summaries])
            if np.all(np.isnan(mean)):
                continue
            label = str(model) + "".join(f", {o}={v}" for o, v in zip(others, combination, strict=True))
            axis.plot(x, mean, marker="o", markersize=3, label=label)
            low, high = np.array([s.low for s in summaries]), np.array([s.high for s in summaries])
            if not np.all(np.isnan(low)):
                axis.fill_between(x, low, high, alpha=0.15)
    if numeric and dim in LOG_SCALE_DIMS and np.all(values > 0):
        axis.set_xscale("log")
    if not numeric:
        axis.set_xticks(x, [str(v) for v in values], rotation=30)
    axis.set_xlabel(f"{dim} (grid value{', log scale' if axis.get_xscale() == 'log' else ''})")
    axis.set_ylabel("final test accuracy (fraction correct)")
    axis.set_title(f"accuracy vs. {dim} (mean over seeds, 95 % CI over seeds and test images)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def seed_curves(sweep: xr.Dataset, selection: dict) -> np.ndarray:
    """``[seed, n_per_class]``: each seed's final test accuracy over labels per class (NaN where a
    cell is missing) at ``selection`` (a model and a value of every other grid dimension)."""
    return sweep.final_test_accuracy.sel(selection).transpose("seed", "n_per_class").values


def sample_efficiency_rows(sweep: xr.Dataset, fraction: float = 0.9) -> list[list[str]]:
    """Per model (and combination of the other grid dimensions): labels per class to reach
    ``fraction`` of the full-data accuracy and the normalised AUC, mean [95 % CI] over seeds."""
    others = [d for d in grid_dims(sweep) if d != "n_per_class"]
    labels = sweep.n_per_class.values
    rows = []
    for model in sweep.model.values:
        for combination in itertools.product(*(sweep[o].values for o in others)):
            selection = dict(zip(others, combination, strict=True)) | {"model": model}
            curves = [curve for curve in seed_curves(sweep, selection) if not np.isnan(curve).any()]
            if not curves:
                continue
            reach = np.array([labels_to_reach(labels, curve, fraction) for curve in curves])
            auc = np.array([normalised_auc(labels, curve) for curve in curves])
            rows.append(
                [
                    str(model),
                    *map(str, combination),
                    format_mean_ci(reach),
                    format_mean_ci(auc),
                    str(len(curves)),
                ]
            )
    return rows


def _aucs(sweep: xr.Dataset, selection: dict) -> np.ndarray:
    """Normalised AUC per seed (NaN for a seed missing a grid point)."""
    labels = sweep.n_per_class.values
    curves = seed_curves(sweep, selection)
    return np.array([np.nan if np.isnan(c).any() else normalised_auc(labels, c) for c in curves])


def paired_auc_rows(sweep: xr.Dataset) -> list[list[str]]:
    """Per pair (and combination of the other grid dimensions): the bio model's normalised AUC
    against each twin's over matched seeds: the difference with its 95 % t-interval, the paired
    t-test's p, Holm's adjusted p over every row (the table's family), d_z and the seeds."""
    others = [d for d in grid_dims(sweep) if d != "n_per_class"]
    rows, p_values = [], []
    for bio_name, *twins in stored_pair_members(sweep.attrs).values():
        for twin in twins:
            for combination in itertools.product(*(sweep[o].values for o in others)):
                base = dict(zip(others, combination, strict=True))
                bio, other = _aucs(sweep, base | {"model": bio_name}), _aucs(sweep, base | {"model": twin})
                both = np.isfinite(bio) & np.isfinite(other)  # seeds where both curves are complete
                if not both.any():
                    continue
                test = paired_test(bio[both], other[both])
                difference = paired_difference(bio[both], other[both])
                p_values.append(test.p_value)
                rows.append(
                    [
                        f"{bio_name} - {twin}",
                        *map(str, combination),
                        _signed_interval(difference.mean, difference.low, difference.high),
                        _p_text(test.p_value),
                        "",  # Holm's p, once the family is complete
                        "n/a" if np.isnan(test.effect_size) else f"{test.effect_size:.2f}",
                        str(test.n),
                    ]
                )
    for row, adjusted in zip(rows, holm_adjusted(p_values), strict=True):
        row[-3] = _p_text(adjusted)
    return rows


def _signed_interval(mean: float, low: float, high: float) -> str:
    """``+0.0123 [+0.0050, +0.0196]``, or the mean alone without an interval (one seed)."""
    if np.isnan(low):
        return f"{mean:+.4f}"
    return f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def _p_text(p_value: float) -> str:
    return "n/a" if np.isnan(p_value) else f"{p_value:.3g}"


def label_draw_note(sweep: xr.Dataset) -> str:
    """Whether the spread over seeds includes which examples were labelled: it does when the
    cells drew their labelled subset with each fit's seed (``labelled_subset_seed`` follows
    ``seed``)."""
    if not _labels_subset(sweep):
        return "Every training example was labelled, so no labelled subset was drawn."
    if "labelled_subset_seed" not in sweep:
        return (
            "The labelled subsets of these cells were drawn before the draw was recorded "
            "(task.subset_seed, once for every seed): the spread over seeds leaves out which examples "
            "were labelled."
        )
    seeds = np.broadcast_to(sweep.seed.values, sweep.labelled_subset_seed.transpose(..., "seed").shape)
    drawn = sweep.labelled_subset_seed.transpose(..., "seed").values
    recorded = np.isfinite(drawn) & (drawn >= 0)
    if recorded.any() and np.array_equal(drawn[recorded], seeds[recorded]) and sweep.sizes["seed"] > 1:
        return (
            'Each fit drew its labelled subset with its own seed (task.subset_seed = "seed"), so the '
            "intervals over seeds include label-draw variance: which examples were labelled."
        )
    return (
        "Every seed was trained on the same labelled subset (a fixed task.subset_seed), so the "
        "intervals over seeds leave out label-draw variance (which examples were labelled)."
    )


def _labels_subset(sweep: xr.Dataset) -> bool:
    """Whether any cell trained on a labelled subset (``task.n_per_class`` swept or set)."""
    if "n_per_class" in grid_dims(sweep):
        return True
    for text in np.unique(sweep.cell_config.values) if "cell_config" in sweep else []:
        task = json.loads(text).get("task", {}) if text else {}
        if task.get("n_per_class") not in (None, "all"):
            return True
    return False


def build_sweep_report(sweep_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` and ``report.md`` for a sweep directory into ``out`` (default
    ``<sweep_dir>/report``); returns the HTML path."""
    sweep_dir = Path(sweep_dir)
    sweep = open_dataset(sweep_dir / "sweep.nc")
    if "model" in sweep.dims:
        checked_names([str(m) for m in sweep.model.values], sweep_dir / "sweep.nc")
    out = Path(out) if out is not None else sweep_dir / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    doc = Document()
    doc.heading(f"neurosim sweep report: {sweep.attrs['sweep']}", 1)
    grid = json.loads(sweep.attrs["grid"])
    doc.paragraph("Grid: " + "; ".join(f"{k} = {v}" for k, v in grid.items()) + ".")
    status = sweep.cell_status.values.ravel()
    doc.paragraph(
        f"Cells: {int((status == 'done').sum())} done, {int((status == 'failed').sum())} failed, "
        f"{int((status == 'pending').sum())} pending."
    )
    if "final_test_accuracy" in sweep:
        _results_sections(doc, sweep, out)
    else:
        doc.paragraph("No cell finished, so there are no results to show; the cells' errors are below.")
    _cells_section(doc, sweep)
    doc.heading("Provenance")
    doc.table(Table(["attribute", "value"], [[k, str(v)] for k, v in sweep.attrs.items()]))
    return doc.write(out, f"neurosim sweep: {sweep.attrs['sweep']}")


def _diverged_warnings(doc: Document, sweep: xr.Dataset) -> None:
    """A warning per model with diverged fits (their accuracies are NaN, so they count nowhere)."""
    if "diverged" not in sweep:
        return
    counts = {str(m): int(np.nansum(sweep.diverged.sel(model=m).values)) for m in sweep.model.values}
    failed = {m: c for m, c in counts.items() if c}
    if failed:
        doc.heading("Warnings")
        for model, count in failed.items():
            doc.paragraph(
                f"WARNING: {model} diverged in {count} fit(s) (see the diverged variable of sweep.nc): a "
                "failed optimisation, not a result; those fits are left out of every number below."
            )


def _results_sections(doc: Document, sweep: xr.Dataset, out: Path) -> None:
    """Accuracy at every grid point, accuracy against each dimension, sample efficiency."""
    _diverged_warnings(doc, sweep)
    dims = grid_dims(sweep)
    doc.heading("Final test accuracy at every grid point")
    rows = []
    for model in sweep.model.values:
        for point in itertools.product(*(sweep[d].values for d in dims)):
            cell = sweep.sel(dict(zip(dims, point, strict=True)) | {"model": model})
            values = np.atleast_1d(cell.final_test_accuracy.values)
            if not np.all(np.isnan(values)):
                rows.append(
                    [
                        str(model),
                        *map(str, point),
                        format_accuracy(values, n_test_images(cell)),
                        str(int((~np.isnan(values)).sum())),
                    ]
                )
    doc.paragraph(
        "Accuracy intervals: 95 % percentile bootstrap over seeds and, within each seed, over test "
        "images (each seed's accuracy redrawn from its Jeffreys posterior), so they stay in [0, 1]. "
        + label_draw_note(sweep)
    )
    doc.table(
        Table(
            ["model", *dims, "final test accuracy, mean [95 % CI over seeds and test images]", "seeds"], rows
        )
    )
    groups = model_groups(sweep)
    for dim in dims:
        doc.heading(f"Accuracy vs. {dim}")
        for group in groups:
            suffix = "" if len(groups) == 1 else "_" + "_".join(group)
            path = accuracy_vs_dimension(sweep, dim, out / "figures" / f"sweep_{dim}{suffix}.png", group)
            doc.figure(
                path, f"{', '.join(group)}: final test accuracy vs. {dim} (mean over seeds, 95 % CI band)"
            )
    if "n_per_class" in dims and sweep.sizes["n_per_class"] >= 2:
        _sample_efficiency_section(doc, sweep, dims)


def _sample_efficiency_section(doc: Document, sweep: xr.Dataset, dims: list[str]) -> None:
    """Learning-curve summaries over labels per class, and each bio model's paired AUC difference."""
    top = int(sweep.n_per_class.values.max())
    doc.heading("Sample efficiency")
    doc.paragraph(
        f"Summaries of each learning curve over labels per class (seeds with every grid point). "
        f"Full-data accuracy is the accuracy at the largest grid value ({top} per class; a grid's "
        "'all' is stored as the training set's size per class). Labels per class to reach 90 % of "
        "it: interpolated linearly in log(labels) between grid points, so only as fine as the grid. "
        "Normalised AUC: the mean accuracy over log10(labels per class)."
    )
    others = [d for d in dims if d != "n_per_class"]
    doc.table(
        Table(
            [
                "model",
                *others,
                "labels per class to 90 % of full-data accuracy",
                "normalised AUC",
                "seeds",
            ],
            sample_efficiency_rows(sweep),
        )
    )
    paired = paired_auc_rows(sweep)
    if paired:
        seeds = min(int(row[-1]) for row in paired)
        doc.paragraph(
            "Each bio model against its twin, seed by seed: difference in normalised AUC (bio - twin; "
            "positive: the bio model learns more from few labels) with its 95 % t-interval, the paired "
            f"t-test's p, and Holm's adjusted p over the {len(paired)} test(s) of this table (its "
            "family; read the adjusted one), and Cohen's d_z. " + label_draw_note(sweep)
        )
        grade = "" if seeds >= CLAIM_SEEDS else "; these tests cannot carry a claim"
        doc.paragraph(f"Degrees of freedom (the row with the fewest seeds): {dof_note(seeds)}{grade}.")
        doc.table(
            Table(
                [
                    "bio - twin",
                    *others,
                    "AUC difference [95 % CI]",
                    "p (paired t)",
                    "p (Holm)",
                    "d_z",
                    "seeds",
                ],
                paired,
            )
        )


def _cells_section(doc: Document, sweep: xr.Dataset) -> None:
    """Every cell's status and error."""
    doc.heading("Cells")
    flat = sweep[["cell_status", "cell_error", "cell_id"]].to_dataframe().reset_index()
    columns = [c for c in flat.columns if c not in ("cell_status", "cell_error", "cell_id")]
    doc.table(
        Table(
            [*columns, "status", "error", "cell id"],
            [
                [str(row[c]) for c in columns] + [row["cell_status"], row["cell_error"], row["cell_id"]]
                for _, row in flat.iterrows()
            ],
        )
    )
