"""The results schema: one Dataset per fit (a member, a seed) and their combination per run.

Fit Dataset
    dims: ``checkpoint`` (evaluation points), ``class_true``/``class_pred`` (C each), ``unit``
    (first-layer units), ``input`` (flattened input values D), ``test_image`` (N test images).
    coords on ``checkpoint``: ``step``, ``samples_seen``, ``epoch``; ``class_true`` and
    ``class_pred`` (class indices 0..C-1, with the task's ``class_names`` as a JSON attribute);
    ``test_image`` (index into the evaluation split) and ``test_label`` (its true class). Every
    coordinate has ``units`` and ``long_name``.
    variables: ``test_accuracy``, ``train_accuracy``, ``train_loss``, ``wall_time`` (checkpoint);
    ``final_test_accuracy``, ``n_parameters_trainable``, ``n_parameters_fixed`` (scalars);
    ``confusion`` (class_true, class_pred); ``first_layer_weights`` (unit, input);
    ``test_prediction`` (test_image): the class predicted for each test image after training, -1
    for none (a diverged fit), so two members can be compared image by image (McNemar). Fits
    stored before lack ``test_image``, ``test_label`` and ``test_prediction`` (optional in
    :func:`validate_fit`; :func:`~neurosim.results.predictions.correct_by_seed` then finds nothing).
    attrs: ``member``, ``model``, ``role``, ``pairs``, ``seed``, ``loss_kind``, ``input_shape``,
    ``n_train``, ``config`` (the resolved comparison as JSON), ``fit_hash`` and the provenance of
    :func:`neurosim.results.provenance.provenance`; ``subset_seed``, the seed the labelled subset
    was drawn with (``task.subset_seed`` resolved; fits stored before: their config's integer).

    ``status`` (``finished`` or ``diverged``, see :mod:`neurosim.training.divergence`),
    ``diverged_step`` and ``diverged_reason`` (absent in fits stored before: ``finished``).

    ``learnt`` (1: the model's local rules learnt, 0: they did not, -1: nothing to check),
    ``convergence`` (one line: the diagnostic and its verdict) and ``convergence_measures`` (JSON),
    see :mod:`neurosim.models.convergence` (absent in fits stored before: -1).

Run Dataset (``results.nc``): the fits' common variables stacked along ``model`` and ``seed``,
and ``diverged``, ``diverged_step``, ``learnt``, ``convergence`` (model, seed); ``test_prediction``
(model, seed, test_image) when any fit stored it (-1 for fits that did not); the fits' coordinate
attributes; ``labelled_subset_seed`` (model, seed), the seed each fit drew its labelled subset
with (not ``subset_seed``, which a sweep over ``task.subset_seed`` names its dimension).

Every variable has CF ``units`` and ``long_name``; :func:`validate_fit` checks this on save.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np
import torch
import xarray as xr

from neurosim.objectives import describe
from neurosim.results.history import History
from neurosim.results.predictions import prediction_coords, prediction_variables, stacked_predictions


class FitRecord(Protocol):
    """What :func:`fit_dataset` reads of a fit (the trainer's :class:`~neurosim.training.FitResult`
    has it): the per-checkpoint history, the loss's name, the test confusion matrix
    ``[class_true, class_pred]``, the final test accuracy, the training-set size, and each test
    image's predicted and true class ``[N]`` (``None``: not recorded)."""

    history: History
    loss_kind: str
    confusion: torch.Tensor
    final_test_accuracy: float
    n_train: int
    test_prediction: torch.Tensor | None
    test_label: torch.Tensor | None


PROVENANCE_KEYS = (
    "neurosim_version",
    "git_sha",
    "torch_version",
    "numpy_version",
    "xarray_version",
    "python_version",
    "platform",
    "device",
    "created",
)
#: Exact operation counts stored per layer (``ops_*``) and summed over layers (``total_*``).
OPERATION_NAMES = ("dense_macs", "effective_macs", "effective_acs", "neuron_updates", "spikes")
FIT_ATTRS = (
    "member",
    "model",
    "role",
    "pairs",
    "seed",
    "loss_kind",
    "input_shape",
    "n_train",
    "config",
    "fit_hash",
)
FIT_VARIABLES = {
    "test_accuracy": ("checkpoint",),
    "train_accuracy": ("checkpoint",),
    "train_loss": ("checkpoint",),
    "wall_time": ("checkpoint",),
    "final_test_accuracy": (),
    "n_parameters_trainable": (),
    "n_parameters_fixed": (),
    "confusion": ("class_true", "class_pred"),
    "first_layer_weights": ("unit", "input"),
    **{f"ops_{name}": ("layer",) for name in OPERATION_NAMES},
    "activation_sparsity": ("layer",),
    **{f"total_{name}": () for name in OPERATION_NAMES},
}
#: Variables of fits stored since they were added (absent from fits stored before).
OPTIONAL_FIT_VARIABLES = {"test_prediction": ("test_image",)}
#: Coordinates whose attributes ``results.nc`` keeps from the fits.
LABELLED_COORDS = ("step", "samples_seen", "epoch", "class_true", "class_pred", "test_image", "test_label")
#: Variables that measure the machine, not the model: excluded from reproducibility checks.
TIMING_VARIABLES = ("wall_time",)
RUN_VARIABLES = tuple(v for v, dims in FIT_VARIABLES.items() if not set(dims) & {"unit", "input", "layer"})


def _var(dims: tuple[str, ...], data: object, units: str, long_name: str, **attrs: str) -> xr.Variable:
    return xr.Variable(dims, np.asarray(data), attrs={"units": units, "long_name": long_name, **attrs})


OPERATION_LONG_NAMES = {
    "dense_macs": "dense multiply-accumulates per inference (every input counted)",
    "effective_macs": "multiply-accumulates per inference with non-zero real-valued inputs",
    "effective_acs": "accumulates (synaptic operations) per inference from binary inputs (spikes)",
    "neuron_updates": "neuron state updates / activation evaluations per inference",
    "spikes": "spikes per inference",
}


def operation_variables(
    per_layer: dict[str, dict[str, float]], kinds: dict[str, str], n_samples: int
) -> dict[str, Any]:
    """Variables for :func:`fit_dataset` from :meth:`OperationCounts.per_sample` (per test sample)."""
    layers = list(per_layer)
    note = {"protocol": f"exact counts, mean over the first {n_samples} test samples, per sample"}
    variables = {
        f"ops_{name}": _var(
            ("layer",), [per_layer[layer][name] for layer in layers], "count", long_name, **note
        )
        for name, long_name in OPERATION_LONG_NAMES.items()
    }
    variables["activation_sparsity"] = _var(
        ("layer",),
        [per_layer[layer]["activation_sparsity"] for layer in layers],
        "1",
        "fraction of zero activations (a LIF layer's spikes; a dense layer's input)",
    )
    for name, long_name in OPERATION_LONG_NAMES.items():
        total = sum(per_layer[layer][name] for layer in layers)
        variables[f"total_{name}"] = _var((), total, "count", f"total {long_name}", **note)
    coords = {"layer": ("layer", layers), "layer_kind": ("layer", [kinds[layer] for layer in layers])}
    return {"variables": variables, "coords": coords}


def fit_dataset(
    result: FitRecord,
    first_layer_weights: np.ndarray,
    counts: dict[str, int],
    attrs: dict[str, Any],
    operations: dict[str, Any],
) -> xr.Dataset:
    """Build the Dataset of one fit from the trainer's result, the model's weights and its
    operation counts (from :func:`operation_variables`)."""
    h = result.history
    data_vars = {
        "test_accuracy": _var(("checkpoint",), h.test_accuracy, "1", "test accuracy"),
        "train_accuracy": _var(("checkpoint",), h.train_accuracy, "1", "training accuracy (fixed subset)"),
        "train_loss": _var(
            ("checkpoint",),
            h.train_loss,
            "1",
            "training objective",
            description=describe(result.loss_kind),
        ),
        "wall_time": _var(("checkpoint",), h.wall_time, "s", "wall-clock time since the fit started"),
        "final_test_accuracy": _var((), result.final_test_accuracy, "1", "test accuracy after training"),
        "n_parameters_trainable": _var((), counts["trainable"], "1", "number of trained parameter values"),
        "n_parameters_fixed": _var((), counts["fixed"], "1", "number of fixed (never trained) weight values"),
        "confusion": _var(
            ("class_true", "class_pred"), result.confusion.numpy(), "count", "test confusion matrix"
        ),
        "first_layer_weights": _var(
            ("unit", "input"),
            first_layer_weights,
            "1",
            "weights from the input to the first layer's units",
        ),
        **operations["variables"],
    }
    n_classes = int(result.confusion.shape[0])
    names = json.loads(attrs.get("class_names", "[]"))
    per_image = prediction_variables(result.test_prediction, result.test_label, n_classes, names)
    data_vars |= per_image["variables"]
    coords = {**_checkpoint_coords(h), **operations["coords"], **per_image["coords"]}
    dataset = xr.Dataset(
        data_vars,
        coords=coords,
        attrs={**attrs, "loss_kind": result.loss_kind, "n_train": result.n_train},
    )
    validate_fit(dataset)
    return dataset


def _checkpoint_coords(h: History) -> dict[str, Any]:
    """The coordinates of a fit's evaluation points: index, steps, samples seen and epochs."""
    return {
        "checkpoint": ("checkpoint", np.arange(len(h.step))),
        "step": (
            "checkpoint",
            np.asarray(h.step),
            {"units": "1", "long_name": "training steps taken"},
        ),
        "samples_seen": (
            "checkpoint",
            np.asarray(h.samples_seen),
            {"units": "1", "long_name": "training samples seen"},
        ),
        "epoch": (
            "checkpoint",
            np.asarray(h.epoch),
            {"units": "1", "long_name": "epochs of training"},
        ),
    }


def validate_fit(dataset: xr.Dataset) -> None:
    """Raise ``ValueError`` if a fit Dataset breaks the schema."""
    problems = []
    for name, dims in FIT_VARIABLES.items():
        if name not in dataset:
            problems.append(f"missing variable {name}")
            continue
        if dataset[name].dims != dims:
            problems.append(f"{name} has dims {dataset[name].dims}, expected {dims}")
        for attr in ("units", "long_name"):
            if attr not in dataset[name].attrs:
                problems.append(f"{name} has no {attr}")
    for name, dims in OPTIONAL_FIT_VARIABLES.items():
        if name in dataset and dataset[name].dims != dims:
            problems.append(f"{name} has dims {dataset[name].dims}, expected {dims}")
    for attr in (*FIT_ATTRS, *PROVENANCE_KEYS):
        if attr not in dataset.attrs:
            problems.append(f"missing attribute {attr}")
    if "config" in dataset.attrs:
        try:
            json.loads(dataset.attrs["config"])
        except ValueError:
            problems.append("attribute config is not JSON")
    if "test_accuracy" in dataset:
        accuracy = dataset.test_accuracy.values
        # A diverged fit has no accuracy from its divergence on (NaN); any other must have one.
        measured = np.ones_like(accuracy, dtype=bool)
        if fit_status(dataset.attrs) == "diverged":
            measured = ~np.isnan(accuracy)
        if not np.all((accuracy[measured] >= 0) & (accuracy[measured] <= 1)):
            problems.append("test_accuracy outside [0, 1]")
    if problems:
        raise ValueError("results schema violated: " + "; ".join(problems))


def fit_status(attrs: dict[str, Any]) -> str:
    """``finished`` or ``diverged`` (fits stored before divergence was detected: ``finished``)."""
    return str(attrs.get("status", "finished"))


def combine_fits(fits: dict[tuple[str, int], xr.Dataset], run_attrs: dict[str, Any]) -> xr.Dataset:
    """Stack fits ``{(member, seed): Dataset}`` into one Dataset with ``model`` and ``seed`` dims.

    Members must share the checkpoint grid (the same budget, enforced by the config); a fit with
    another grid raises ``ValueError`` rather than being misaligned.
    """
    members = list(dict.fromkeys(member for member, _ in fits))
    seeds = sorted({seed for _, seed in fits})
    grid = next(iter(fits.values())).samples_seen.values
    for key, fit in fits.items():
        if not np.array_equal(fit.samples_seen.values, grid):
            raise ValueError(f"fit {key} has a different checkpoint grid; members must share the budget")
    rows = []
    for member in members:
        per_seed = [_run_part(fits[(member, seed)]) for seed in seeds]
        rows.append(xr.concat(per_seed, dim="seed", coords="minimal", compat="override", join="override"))
    combined = xr.concat(rows, dim="model", coords="minimal", compat="override", join="override")
    first = fits[(members[0], seeds[0])]
    for name in RUN_VARIABLES:
        combined[name].attrs = first[name].attrs
    combined["train_loss"].attrs["description"] = _objectives_description(fits, members, seeds[0])
    for name, variable in _status_variables(fits, members, seeds).items():
        combined[name] = variable
    predictions = stacked_predictions(fits, members, seeds)
    if predictions is not None:
        combined["test_prediction"] = predictions
    combined = combined.assign_coords(
        model=("model", members),
        seed=("seed", seeds),
        role=("model", [fits[(m, seeds[0])].attrs["role"] for m in members]),
        loss_kind=("model", [fits[(m, seeds[0])].attrs["loss_kind"] for m in members]),
        **_labelled_coords(fits),
    )
    combined.attrs = dict(run_attrs)
    return combined


def _run_part(fit: xr.Dataset) -> xr.Dataset:
    """The variables of a fit that ``results.nc`` stacks, without attributes or class coordinates
    (a fit stored before has none; :func:`_labelled_coords` puts them back)."""
    part = fit[list(RUN_VARIABLES)].drop_attrs()
    return part.drop_vars([c for c in ("class_true", "class_pred") if c in part.coords])


def _labelled_coords(fits: dict[tuple[str, int], xr.Dataset]) -> dict[str, Any]:
    """The checkpoint, class and test-image coordinates with their attributes, from the fits that
    have them (the checkpoint grid is shared; see :func:`combine_fits`)."""
    coords: dict[str, Any] = dict(prediction_coords(fits))
    for name in LABELLED_COORDS:
        holder = next((fit for fit in fits.values() if name in fit.coords), None)
        if holder is not None:
            coords[name] = holder[name].variable
    return coords


def _objectives_description(fits: dict[tuple[str, int], xr.Dataset], members: list[str], seed: int) -> str:
    """The run's ``train_loss`` description: every model's objective, by its ``loss_kind``."""
    # Each fit stored its objective's description (fit_dataset), so no model code is needed here.
    descriptions = {
        fits[(m, seed)].attrs["loss_kind"]: fits[(m, seed)]["train_loss"].attrs.get("description", "")
        for m in members
    }
    kinds = sorted(descriptions)
    return "each model's own objective (coordinate loss_kind): " + "; ".join(
        f"{kind}: {descriptions[kind]}" for kind in kinds
    )


def _status_variables(
    fits: dict[tuple[str, int], xr.Dataset], members: list[str], seeds: list[int]
) -> dict[str, xr.Variable]:
    """The run's per-fit status (model, seed): diverged, where, and the convergence verdict."""
    diverged = [[fit_status(fits[(m, s)].attrs) == "diverged" for s in seeds] for m in members]
    return {
        "diverged": _var(
            ("model", "seed"),
            np.asarray(diverged, dtype=np.int8),
            "1",
            "1 if the fit diverged (non-finite or exploding training objective or weights)",
        ),
        "diverged_step": _var(
            ("model", "seed"),
            [[int(fits[(m, s)].attrs.get("diverged_step", -1)) for s in seeds] for m in members],
            "1",
            "training step at which the fit diverged (-1: it did not)",
        ),
        "learnt": _var(
            ("model", "seed"),
            np.asarray(
                [[int(fits[(m, s)].attrs.get("learnt", -1)) for s in seeds] for m in members], np.int8
            ),
            "1",
            "1 if the model's local rules learnt by their convergence diagnostic, 0 if not, -1 not checked",
        ),
        "convergence": _var(
            ("model", "seed"),
            np.asarray([[fits[(m, s)].attrs.get("convergence", "") for s in seeds] for m in members], object),
            "1",
            "the convergence diagnostic of the model's local rules, in words (empty: not checked)",
        ),
        "labelled_subset_seed": _var(
            ("model", "seed"),
            [[fit_subset_seed(fits[(m, s)].attrs) for s in seeds] for m in members],
            "1",
            "seed the labelled training subset was drawn with (task.subset_seed resolved; -1: unknown)",
        ),
    }


def fit_subset_seed(attrs: dict[str, Any]) -> int:
    """The seed a fit's labelled subset was drawn with: its ``subset_seed`` attribute, or for fits
    stored before it was recorded, the integer ``task.subset_seed`` of its config (-1 if neither)."""
    if "subset_seed" in attrs:
        return int(attrs["subset_seed"])
    try:
        stored = json.loads(attrs.get("config", "{}")).get("task", {}).get("subset_seed")
    except (ValueError, AttributeError):
        return -1
    return stored if isinstance(stored, int) and not isinstance(stored, bool) else -1
