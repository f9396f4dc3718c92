"""Representation analysis of a stored run: how each bio model's layers relate to its twin's, and
how sparse and high-dimensional each layer's code is. Runs on the trained models stored with the
fits (``fits/<member>/seed<k>.model.pt``), so it never retrains, and gives the same numbers whether
it runs right after training (``neurosim run --analyses representations``) or later
(``neurosim analyse RUN_DIR``).

Stimuli: the first ``n_stimuli`` test images of the run's task (the same for every model, seed and
call). Activity: :func:`neurosim.analysis.activity.record_activity` at every probe point (names:
:mod:`neurosim.probes`): each layer's output after its nonlinearity (``<layer>``: the RePU
``relu(u)^n``, SoftHebb's ``K softmax(t u)``, Triangle, ReLU or tanh, after a block's pooling;
spike counts for spiking layers), which is what the next layer or the readout sees, and the
current before the nonlinearity (``<layer>.pre``). Every variable below holds both; the report
shows the outputs and says that the currents are stored.

Stored as ``analyses/representations.nc`` (written atomically), one xarray Dataset:

* ``cka__<bio>__<twin>``: dims ``(kind, seed, layer__<bio>, layer__<twin>)``, ``kind`` in
  ``linear`` / ``debiased`` (:mod:`neurosim.analysis.cka`): the layer x layer similarity map.
* ``rsa__<bio>__<twin>``: dims ``(statistic, seed, layer__<bio>, layer__<twin>)``, ``statistic``
  in ``estimate`` / ``low`` / ``high``: the Pearson correlation of the two layers' RDMs and its 95 %
  bootstrap interval over conditions (:mod:`neurosim.analysis.rdm`, through rsatoolbox).
* ``rdm__<member>``: dims ``(seed, layer__<member>, condition_pair)``: each layer's RDM (correlation
  distance, upper triangle, row-major) over the conditions ``rdm_conditions`` (indices into the
  stimuli, :data:`~neurosim.analysis.rdm.PER_CLASS` per class, in class order).
* ``code__<member>``: dims ``(measure, seed, layer__<member>)`` with the measures of
  :data:`MEASURES` (:mod:`neurosim.analysis.sparseness`). "Active" means an output above 0 (for a
  spiking layer: at least one spike during the presentation); for a current ``.pre`` before a
  ReLU or a rectified power that is "active after the rectification". The Vinje-Gallant
  sparseness is taken of ``max(a, 0)`` (for tanh outputs, of their positive part). A softmax
  layer's outputs are all positive, so every unit counts as active there. None of this is
  commensurable with the fraction of cortical neurons active at once (attribute
  ``fraction_active``; ``docs/references/cortex_sparseness.md``).

Attributes: ``n_stimuli``, ``stimuli``, ``hidden__<member>`` (the last hidden layer's output
probe, the layer the summary compares; ``""`` for a model with no hidden layer), ``probes`` and
``fraction_active`` (what the layers and the measure are), the run's resolved ``config`` and the
provenance of the analysis (code version, machine, time).

Summary (:func:`representation_summary`): per pair, the linear CKA of the bio model's last hidden
layer output with the twin's, mean over seeds and 95 % t-interval (clipped to CKA's range [0, 1]);
no member is "better", similarity is reported as a value.

Registered as :data:`ANALYSIS` (report section: CKA and RSA maps per pair, RDMs per member, a table
of the code measures); stored models are loaded inside the compute function only
(:mod:`neurosim.analysis.study`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from matplotlib.figure import Figure

from neurosim.analysis import N_STIMULI
from neurosim.analysis.activity import cka_maps, record_activity
from neurosim.analysis.cka import KINDS
from neurosim.analysis.rdm import N_BOOTSTRAP, PER_CLASS, condition_indices, layer_rdms, rdm_similarity
from neurosim.analysis.sparseness import fraction_active, participation_ratio, vinje_gallant_sparseness
from neurosim.analysis.statistics import format_mean_ci, mean_ci
from neurosim.analysis.stored_run import analysis_attrs, load_run, save_analysis, stored_analysis
from neurosim.analysis.study import Analysis, Page, SummaryCell
from neurosim.probes import last_hidden, outputs

if TYPE_CHECKING:
    from neurosim.config import ComparisonConfig
    from neurosim.tasks import Task

MEASURES = (
    "fraction_active_population",  # its mean over stimuli equals the lifetime one's over units
    "sparseness_population",
    "sparseness_lifetime",
    "participation_ratio",
)
#: What the stored layers are (attribute ``probes``).
PROBES = (
    "<layer>: the layer's output after its nonlinearity (what the next layer or the readout sees; "
    "spike counts over the presentation for spiking layers); <layer>.pre: its current before the "
    "nonlinearity"
)
#: Why "fraction active" is not the cortical number (attribute ``fraction_active``; the sources:
#: docs/references/cortex_sparseness.md).
NOT_COMMENSURABLE = (
    "fraction of a layer's units with an output above 0 for one image (spiking layers: neurons with "
    "at least one spike in the presentation). Not commensurable with cortical estimates such as "
    "Lennie 2003 (Curr. Biol. 13:493: fewer than 1 % of cortical neurons substantially active at "
    "once, an energy-budget bound): a unit is not a neuron (a convolutional channel repeats one unit "
    "over positions), a forward pass has no time base (spiking models count over their own window), "
    "and any output above 0 counts, however small, where the cortical figure counts neurons firing "
    "at a substantial rate"
)
#: The summary table's column (:func:`representation_summary`).
SIMILARITY_COLUMN = "representational similarity to the twin (linear CKA, last hidden layers)"
#: The columns of the report's table of code measures: measure, header.
REPRESENTATION_COLUMNS = (
    ("fraction_active_population", "fraction active per image"),
    ("sparseness_population", "population sparseness (Vinje-Gallant)"),
    ("sparseness_lifetime", "lifetime sparseness (Vinje-Gallant)"),
    ("participation_ratio", "effective dimensionality (participation ratio)"),
)


def _code_measures(activity) -> list[float]:
    active = fraction_active(activity)
    sparseness = vinje_gallant_sparseness(activity.clamp_min(0.0))
    return [
        active["population"],
        sparseness["population"],
        sparseness["lifetime"],
        participation_ratio(activity),
    ]


def _recorded(
    run_dir: str | Path, config: ComparisonConfig, task: Task, seed: int, stimuli: torch.Tensor
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, str]]:
    """``{member: {probe point: activity [n, units]}}`` of every member's stored model of one seed
    (outputs and currents), and ``{member: its last hidden layer's output probe, or ""}``."""
    from neurosim.run_loading import load_fitted_model  # here: the report imports this module

    activity, hidden = {}, {}
    for member in config.members:
        model = load_fitted_model(run_dir, member, task, seed)
        activity[member.name] = record_activity(model, stimuli, currents=True)
        hidden[member.name] = last_hidden(model.probe_points(), model.readout_probe()) or ""
    return activity, hidden


def analyse_representations(run_dir: str | Path, n_stimuli: int = N_STIMULI) -> xr.Dataset:
    """Compute the representation analysis of a finished run and store it; returns the Dataset."""
    config, task = load_run(run_dir)
    stimuli = task.x_test[:n_stimuli]
    conditions = condition_indices(task.y_test[:n_stimuli])
    seeds = list(config.seeds)
    codes: dict[str, list] = {member.name: [] for member in config.members}  # per seed: [layer, measure]
    maps: dict[tuple[str, str], list] = {}  # per seed: [kind, layer_bio, layer_twin]
    rsa: dict[tuple[str, str], list] = {}  # per seed: [statistic, layer_bio, layer_twin]
    rdms: dict[str, list] = {member.name: [] for member in config.members}  # per seed: [layer, pair]
    layers: dict[str, list[str]] = {}
    twins = [(bio, twin) for bio, *others in config.pair_members().values() for twin in others]
    for seed in seeds:  # one seed's activity in memory at a time (wide conv layers are large)
        activity, hidden = _recorded(run_dir, config, task, seed, stimuli)
        seed_rdms = {}
        for name, recorded in activity.items():
            layers[name] = list(recorded)
            codes[name].append([_code_measures(a) for a in recorded.values()])
            seed_rdms[name] = layer_rdms(recorded, conditions)
            rdms[name].append(seed_rdms[name].get_vectors())
        for bio, twin in twins:
            maps.setdefault((bio, twin), []).append(
                [similarity.values for similarity in cka_maps(activity[bio], activity[twin], KINDS)]
            )
            rsa.setdefault((bio, twin), []).append(rdm_similarity(seed_rdms[bio], seed_rdms[twin], seed=seed))
    variables = {}
    for name, per_seed in codes.items():
        variables[f"code__{name}"] = xr.DataArray(
            np.array(per_seed).transpose(2, 0, 1),  # [seed, layer, measure] -> [measure, seed, layer]
            dims=("measure", "seed", f"layer__{name}"),
            coords={"measure": list(MEASURES), "seed": seeds, f"layer__{name}": layers[name]},
        )
    variables.update(_pair_variables(maps, rsa, layers, seeds))
    for name, per_seed in rdms.items():
        variables[f"rdm__{name}"] = xr.DataArray(
            np.array(per_seed),
            dims=("seed", f"layer__{name}", "condition_pair"),
            coords={"seed": seeds, f"layer__{name}": layers[name]},
        )
    attrs = analysis_attrs("representations", len(stimuli), task, config)
    attrs.update({f"hidden__{name}": layer for name, layer in hidden.items()})
    attrs.update(probes=PROBES, fraction_active=NOT_COMMENSURABLE)
    attrs["rdm_conditions"] = conditions.tolist()
    attrs["rdm"] = (
        f"correlation distance over {len(conditions)} stimuli ({PER_CLASS} per class); RDMs compared by "
        f"Pearson correlation with a {N_BOOTSTRAP}-sample bootstrap over stimuli (rsatoolbox)"
    )
    return save_analysis(run_dir, "representations", xr.Dataset(variables, attrs=attrs))


def _pair_variables(
    maps: dict[tuple[str, str], list],
    rsa: dict[tuple[str, str], list],
    layers: dict[str, list[str]],
    seeds: list,
) -> dict[str, xr.DataArray]:
    """The CKA maps and RDM comparisons of each bio-twin pair, per seed, as stored variables."""
    variables = {}
    for (bio, twin), per_seed in maps.items():
        variables[f"cka__{bio}__{twin}"] = xr.DataArray(
            np.array(per_seed).transpose(1, 0, 2, 3),  # [seed, kind, ...] -> [kind, seed, ...]
            dims=("kind", "seed", f"layer__{bio}", f"layer__{twin}"),
            coords={
                "kind": list(KINDS),
                "seed": seeds,
                f"layer__{bio}": layers[bio],
                f"layer__{twin}": layers[twin],
            },
        )
    for (bio, twin), per_seed in rsa.items():
        variables[f"rsa__{bio}__{twin}"] = xr.DataArray(
            np.array(per_seed).transpose(1, 0, 2, 3),  # [seed, statistic, ...] -> [statistic, seed, ...]
            dims=("statistic", "seed", f"layer__{bio}", f"layer__{twin}"),
            coords={
                "statistic": ["estimate", "low", "high"],
                "seed": seeds,
                f"layer__{bio}": layers[bio],
                f"layer__{twin}": layers[twin],
            },
        )
    return variables


def stored_representations(run_dir: str | Path) -> xr.Dataset | None:
    """The stored analysis of a run, or ``None`` if it was never run."""
    return stored_analysis(run_dir, "representations")


def cka_heatmaps(similarity: xr.DataArray, bio: str, twin: str) -> Figure:
    """Layer x layer CKA of ``bio`` (rows) and ``twin`` (columns), one panel per kind, mean over seeds."""
    kinds = [str(k) for k in similarity.kind.values]
    rows = [str(n) for n in similarity[f"layer__{bio}"].values]
    columns = [str(n) for n in similarity[f"layer__{twin}"].values]
    width = max(3.0, 0.7 * len(columns) + 2.0)
    figure = Figure(figsize=(width * len(kinds), max(2.6, 0.6 * len(rows) + 1.6)))
    axes = figure.subplots(1, len(kinds))
    for axis, kind in zip(np.atleast_1d(axes), kinds, strict=True):
        mean = similarity.sel(kind=kind).mean("seed").values
        image = axis.imshow(mean, vmin=0, vmax=1, cmap="viridis")
        for (i, j), value in np.ndenumerate(mean):
            axis.text(
                j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k"
            )
        axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(rows)), rows, fontsize=7)
        axis.set_xlabel(f"{twin} layer")
        axis.set_ylabel(f"{bio} layer")
        axis.set_title(f"{kind} CKA (mean of {similarity.sizes['seed']} seeds)", fontsize=9)
        figure.colorbar(image, ax=axis, fraction=0.046)
    return figure


def rsa_heatmap(similarity: xr.DataArray, bio: str, twin: str) -> Figure:
    """Layer x layer RDM correlation of ``bio`` (rows) and ``twin`` (columns): the mean over seeds
    of the estimate, annotated with the mean of the bootstrap interval's bounds."""
    mean = similarity.mean("seed")
    estimate, low, high = (mean.sel(statistic=s).values for s in ("estimate", "low", "high"))
    rows = [str(n) for n in similarity[f"layer__{bio}"].values]
    columns = [str(n) for n in similarity[f"layer__{twin}"].values]
    figure = Figure(figsize=(max(3.4, 0.9 * len(columns) + 2.2), max(2.6, 0.7 * len(rows) + 1.6)))
    axis = figure.subplots()
    image = axis.imshow(estimate, vmin=-1, vmax=1, cmap="RdBu_r")
    for (i, j), value in np.ndenumerate(estimate):
        colour = "w" if abs(value) > 0.6 else "k"  # legible on the dark ends of the diverging map
        text = f"{value:.2f}\n[{low[i, j]:.2f}, {high[i, j]:.2f}]"
        axis.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
    axis.set_yticks(range(len(rows)), rows, fontsize=7)
    axis.set_xlabel(f"{twin} layer")
    axis.set_ylabel(f"{bio} layer")
    axis.set_title(f"RDM correlation (mean of {similarity.sizes['seed']} seeds; 95 % bootstrap)", fontsize=8)
    figure.colorbar(image, ax=axis, fraction=0.046, label="Pearson r of RDMs")
    return figure


def rdm_matrices(rdms: xr.DataArray, member: str) -> Figure:
    """Each layer's RDM (first seed), conditions grouped by class; correlation distance 0-2. (Drawn
    for a plain layout: the colour bar spans the panels.)"""
    from scipy.spatial.distance import squareform

    layers = [str(n) for n in rdms[f"layer__{member}"].values]
    figure = Figure(figsize=(2.6 * len(layers) + 0.8, 2.8))
    axes = figure.subplots(1, len(layers), squeeze=False)
    first = rdms.isel(seed=0)
    for axis, layer in zip(axes[0], layers, strict=True):
        image = axis.imshow(
            squareform(first.sel({f"layer__{member}": layer}).values), vmin=0, vmax=2, cmap="viridis"
        )
        axis.set_title(f"{member} {layer}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(image, ax=list(axes[0]), fraction=0.03, label="1 - Pearson r")
    return figure


def layer_outputs(array: xr.DataArray) -> xr.DataArray:
    """``array`` at its members' layer outputs only (every ``layer__<member>`` dim without the
    ``.pre`` currents)."""
    dims = [str(d) for d in array.dims if str(d).startswith("layer__")]
    return array.sel({d: outputs(str(n) for n in array[d].values) for d in dims})


def _code_rows(analysis: xr.Dataset) -> list[list[str]]:
    """The table of code measures: per member and layer output, each measure's mean [95 % CI] over
    seeds."""
    rows = []
    for name in [str(n) for n in analysis.data_vars if str(n).startswith("code__")]:
        member = name.split("__", 1)[1]
        code = layer_outputs(analysis[name])
        for layer in code[f"layer__{member}"].values:
            values = code.sel({f"layer__{member}": layer})
            measures = [format_mean_ci(values.sel(measure=m).values) for m, _ in REPRESENTATION_COLUMNS]
            rows.append([member, str(layer), *measures])
    return rows


def representations_section(page: Page, analysis: xr.Dataset, results: xr.Dataset) -> None:
    """CKA maps of each bio model against its twin and the code measures of every layer
    (``results``, the run's results, are not needed)."""
    page.heading(f"Representations ({analysis.attrs['stimuli']}; stored models)")
    page.paragraph(
        "Each layer's output after its nonlinearity (RePU, softmax features, Triangle, ReLU, tanh; "
        "spike counts over the presentation for spiking layers): what the next layer or the readout "
        "sees. The currents before each nonlinearity are stored too, as layers '<layer>.pre' of "
        "analyses/representations.nc. CKA compares two layers' representational geometry on the "
        "same images (1: the same up to rotation and scale); debiased CKA removes the finite-sample "
        "bias of linear CKA. 'Active' is an output above 0 (a spiking neuron: at least one spike); "
        "this fraction is not commensurable with the fraction of cortical neurons active at once "
        "(fewer than 1 % by Lennie's 2003 energy budget): units are not neurons, a forward pass "
        "has no time base, and any output above 0 counts. Values: mean [95 % CI] over seeds."
    )
    for name in [str(n) for n in analysis.data_vars if str(n).startswith("cka__")]:
        _, bio, twin = name.split("__")
        page.figure(
            cka_heatmaps(layer_outputs(analysis[name]), bio, twin),
            f"cka_{bio}_{twin}.png",
            f"{bio} vs. {twin}: layer x layer CKA",
        )
        if f"rsa__{bio}__{twin}" in analysis:
            page.figure(
                rsa_heatmap(layer_outputs(analysis[f"rsa__{bio}__{twin}"]), bio, twin),
                f"rsa_{bio}_{twin}.png",
                f"{bio} vs. {twin}: layer x layer correlation of RDMs ({analysis.attrs['rdm']})",
            )
    for name in [str(n) for n in analysis.data_vars if str(n).startswith("rdm__")]:
        member = name.split("__", 1)[1]
        page.figure(
            rdm_matrices(layer_outputs(analysis[name]), member),
            f"rdm_{member}.png",
            f"{member}: RDM of each layer (first seed; stimuli grouped by class)",
            tight=False,
        )
    page.table(["model", "layer", *(label for _, label in REPRESENTATION_COLUMNS)], _code_rows(analysis))


def representation_summary(
    analysis: xr.Dataset, results: xr.Dataset, bio: str, twin: str
) -> list[SummaryCell]:
    """The pair's summary cell: linear CKA of the two members' last hidden layer outputs, mean
    [95 % t-interval over seeds, clipped to [0, 1]]; none for a pair without a map or a member
    without a hidden layer (``results`` is not needed)."""
    name = f"cka__{bio}__{twin}"
    layers = analysis.attrs.get(f"hidden__{bio}", ""), analysis.attrs.get(f"hidden__{twin}", "")
    if name not in analysis or not all(layers):
        return []
    values = analysis[name].sel({"kind": "linear", f"layer__{bio}": layers[0], f"layer__{twin}": layers[1]})
    summary = mean_ci(values.values)
    if summary.n == 0:
        return []
    low, high = (min(max(bound, 0.0), 1.0) for bound in (summary.low, summary.high))
    interval = "" if np.isnan(summary.low) else f" [{low:.2f}, {high:.2f}]"
    return [
        SummaryCell(
            column=SIMILARITY_COLUMN,
            bio=layers[0],
            twin=layers[1],
            difference=f"CKA {summary.mean:.2f}{interval} (n={summary.n})",
            better=None,
            what="",  # a similarity of the two members has no better member
        )
    ]


ANALYSIS = Analysis(
    name="representations",
    description="CKA and RSA maps, sparseness, dimensionality",
    compute=analyse_representations,
    section=representations_section,
    summary=representation_summary,
)
