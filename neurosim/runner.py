"""Run a comparison: fit every member for every seed, store each fit, combine, resume.

Layout of a run directory (``runs/<name>-<config hash>/``)::

    config.json                      resolved comparison (the latest invocation)
    fits/<member>/seed<k>.nc         one Dataset per finished fit (written atomically)
    fits/<member>/seed<k>.model.pt   the fit's trained weights (state dict)
    fits/<member>/seed<k>.ckpt.pt    training checkpoint of an unfinished fit
    results.nc                       all fits stacked along model and seed
    report/                          written by ``neurosim report``

A rerun of the same command skips finished fits, resumes unfinished ones from their last
checkpoint, and produces the same results as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Callable
from pathlib import Path

import torch
import xarray as xr

from neurosim.config import ComparisonConfig, MemberConfig, identity_training
from neurosim.device import device_description, resolve_device, seeded
from neurosim.errors import UserError
from neurosim.metrics import ledger
from neurosim.models import MODELS, NeurosimModel
from neurosim.pairs import PAIRS
from neurosim.results.provenance import git_sha, provenance
from neurosim.results.schema import combine_fits, fit_dataset, operation_variables, validate_fit
from neurosim.results.storage import open_dataset, save_dataset, save_torch, write_text
from neurosim.tasks import TASKS, Task
from neurosim.training import Trainer

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], Callable[[int, int], None] | None]


def check_options(factory: Callable, options: dict, what: str, skip: tuple[str, ...] = ()) -> None:
    """Raise UserError naming the valid options if ``options`` has a key ``factory`` does not take."""
    valid = [name for name in inspect.signature(factory).parameters if name not in skip]
    for key in options:
        if key not in valid:
            raise UserError(
                f"unknown option {key!r} for {what}; valid options: {', '.join(valid) or '(none)'}"
            )


def build_model(member: MemberConfig, task: Task, seed: int) -> NeurosimModel:
    """Build a member's model on the CPU from its seed (identical weights on every device)."""
    factory = MODELS.get(member.model)
    check_options(factory, member.options, f"model {member.model!r}", skip=("input_shape", "n_classes"))
    with seeded(seed):
        return factory(task.input_shape, task.n_classes, **member.options)


def fit_path(directory: str | Path, member: str, seed: int, suffix: str = ".nc") -> Path:
    """Where a fit's files live: ``fits/<member>/seed<k>`` + ``.nc`` (results), ``.ckpt.pt``
    (training checkpoint) or ``.model.pt`` (trained weights)."""
    return Path(directory) / "fits" / member / f"seed{seed}{suffix}"


def load_fitted_model(directory: str | Path, member: MemberConfig, task: Task, seed: int) -> NeurosimModel:
    """A finished fit's trained model (``fits/<member>/seed<k>.model.pt``), on the CPU, in eval mode."""
    path = fit_path(directory, member.name, seed, ".model.pt")
    if not path.is_file():
        raise UserError(
            f"{path} does not exist: the fit of {member.name} seed {seed} has not finished, or was stored "
            "by a neurosim that did not keep trained models; delete its seed file and rerun the comparison"
        )
    model = build_model(member, task, seed)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_task(config: ComparisonConfig) -> Task:
    """Build the comparison's task; bad options name the valid ones."""
    factory = TASKS.get(config.task.name)
    check_options(factory, config.task.options, f"task {config.task.name!r}")
    return factory(**config.task.options)


def check_pairs(config: ComparisonConfig, task: Task) -> None:
    """Build each pair's members and check its matching policy before any training."""
    for pair_name, (bio_name, *twin_names) in config.pair_members().items():
        pair = PAIRS.get(pair_name)
        bio = build_model(config.member(bio_name), task, 0)
        for twin_name in twin_names:
            twin = build_model(config.member(twin_name), task, 0)
            try:
                pair.check(bio, twin)
            except ValueError as error:
                raise UserError(
                    f"pair {pair_name!r} breaks its matching policy ({pair.held_equal}): {error}"
                ) from None


def run_directory(config: ComparisonConfig, root: str | Path = "runs") -> Path:
    """``root/<name>-<hash>``: the same comparison and overrides always map to the same folder."""
    return Path(root) / f"{config.name}-{config.hash()}"


def fit_hash(config: ComparisonConfig, member: MemberConfig, seed: int) -> str:
    """Identity of one fit: task, member (model, options, training), seed, device and the model's
    :attr:`~neurosim.models.NeurosimModel.fit_version` (left out at version 1, so the identities
    of fits stored before versions existed still hold)."""
    identity = {
        "task": config.task.__dict__,
        "member": member.__dict__ | {"training": identity_training(member.training.__dict__)},
        "seed": seed,
        "device": config.device,
    }
    version = getattr(MODELS.get(member.model), "fit_version", 1)  # factories: version 1
    if version != 1:
        identity["fit_version"] = version
    payload = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


OPERATION_SAMPLES = 1000


def measure_operations(model: NeurosimModel, task: Task, device: torch.device) -> dict:
    """Exact per-layer operation counts on the first test samples (see :mod:`neurosim.metrics`)."""
    x = task.x_test[:OPERATION_SAMPLES].to(device)
    per_sample, kinds = ledger(model, x)
    return operation_variables(per_sample, kinds, len(x))


def run_fit(
    config: ComparisonConfig,
    member: MemberConfig,
    task: Task,
    seed: int,
    device: torch.device,
    directory: Path,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Fit one member with one seed, or load it if it already finished; returns its Dataset."""
    result_path = fit_path(directory, member.name, seed)
    checkpoint_path = fit_path(directory, member.name, seed, ".ckpt.pt")
    identity = fit_hash(config, member, seed)
    if result_path.is_file():
        stored = open_dataset(result_path)
        try:
            validate_fit(stored)
        except ValueError as error:  # written by an older neurosim: recompute rather than mis-combine
            log.warning("%s predates the current schema (%s); recomputing", result_path, error)
        else:
            if stored.attrs.get("fit_hash") == identity:
                log.info("%s seed %d already finished; skipping", member.name, seed)
                return stored
            log.warning("%s holds a different fit; recomputing", result_path)
    model = build_model(member, task, seed).to(device)
    trainer = Trainer(
        model, task, member.training, seed, device, config.task.n_per_class, config.task.subset_seed
    )
    result = trainer.fit(checkpoint_path=checkpoint_path, progress=progress)
    model.eval()
    attrs = {
        "member": member.name,
        "model": member.model,
        "role": member.role,
        "pairs": ",".join(member.pairs),
        "seed": seed,
        "input_shape": json.dumps(list(task.input_shape)),
        "config": config.to_json(),
        "fit_hash": identity,
        "unsupervised_seconds": result.unsupervised_seconds,
        "task_description": task.description,
        "class_names": json.dumps(list(task.class_names)),
        **provenance(device_description(device)),
    }
    weights = model.first_layer_weights().float().cpu().numpy()
    operations = measure_operations(model, task, device)
    dataset = fit_dataset(result, weights, model.count_parameters(), attrs, operations)
    # The trained weights, so later analyses never need to retrain.
    save_torch(fit_path(directory, member.name, seed, ".model.pt"), model.state_dict())
    save_dataset(result_path, dataset)
    checkpoint_path.unlink(missing_ok=True)
    return dataset


def run_comparison(
    config: ComparisonConfig,
    root: str | Path = "runs",
    progress: ProgressFactory | None = None,
    directory: str | Path | None = None,
) -> Path:
    """Fit every member for every seed (skipping finished fits) and write ``results.nc``.

    Args:
        config: the resolved comparison.
        root: parent of the run directory (see :func:`run_directory`).
        progress: makes a per-fit progress callback from a label.
        directory: an explicit run directory instead of ``root/<name>-<hash>`` (sweep cells).

    Returns:
        The run directory.
    """
    device = resolve_device(config.device)
    git_sha()  # pin the code version of this run before any fit finishes
    task = load_task(config)
    check_pairs(config, task)
    directory = Path(directory) if directory is not None else run_directory(config, root)
    directory.mkdir(parents=True, exist_ok=True)
    write_text(directory / "config.json", json.dumps(config.to_dict(), indent=2, sort_keys=True))
    log.info("run directory %s (task %s, device %s)", directory, task.name, device)
    fits = {}
    for member in config.members:
        for seed in config.seeds:
            label = f"{member.name} seed {seed}"
            fits[(member.name, seed)] = run_fit(
                config, member, task, seed, device, directory, progress(label) if progress else None
            )
            log.info(
                "%s: test accuracy %.4f",
                label,
                float(fits[(member.name, seed)].final_test_accuracy),
            )
    run_attrs = {
        "comparison": config.name,
        "comparison_version": config.version,
        "description": config.description,
        "task": task.name,
        "task_description": task.description,
        "pairs": ",".join(config.pairs),
        "pair_members": json.dumps(config.pair_members()),
        "config": config.to_json(),
        **provenance(device_description(device)),
    }
    save_dataset(directory / "results.nc", combine_fits(fits, run_attrs))
    return directory
