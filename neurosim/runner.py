"""Run a comparison: fit every member for every seed, store each fit, combine, resume.

The run folder's layout is described in :mod:`neurosim.run_folder`. A rerun of the same command
skips finished fits, resumes unfinished ones from their last checkpoint, and produces the same
results as an uninterrupted run.

Several processes may share a run folder (two runs with other seeds, SLURM jobs): a process
trains a fit only while it holds the fit's lock. It first trains the fits nobody holds, then waits
for those another process is training (saying whom it waits for) and takes their results, or
resumes them from their checkpoint if their holder died.

Everything is validated before the run folder is created: the comparison (by :func:`config.resolve`),
the output folder, the task, and every member's model (built once, pair policies checked).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from neurosim.config import (
    ComparisonConfig,
    MemberConfig,
    identity_task,
    identity_training,
    resolve_subset_seed,
)
from neurosim.device import device_description, resolve_device
from neurosim.errors import UserError
from neurosim.fit_workers import Standby, choose_workers, stop_workers
from neurosim.metrics import ledger
from neurosim.models import MODELS, NeurosimModel
from neurosim.models.convergence import NOT_CHECKED
from neurosim.pairs import PAIRS, is_control
from neurosim.results.lock import FileLock, LockHolder
from neurosim.results.provenance import git_sha, provenance
from neurosim.results.schema import fit_dataset, operation_variables
from neurosim.results.storage import save_dataset, save_torch, write_text
from neurosim.run_folder import (
    check_out_folder,
    fit_lock,
    fit_path,
    fit_state,
    open_fit,
    snapshot_path,
    stored_config,
    write_results,
)
from neurosim.run_loading import build_model, load_task
from neurosim.tasks import Task
from neurosim.threads import shared_threads
from neurosim.training import FitResult, Trainer

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], Callable[[int, int], None] | None]


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


def check_members(config: ComparisonConfig, task: Task) -> None:
    """Build every member once (so each model's own checks run) and check each pair's policy."""
    check_pairs(config, task)
    for member in config.members:
        if not member.pairs:
            build_model(member, task, 0)


def run_directory(config: ComparisonConfig, root: str | Path = "runs") -> Path:
    """``root/<name>-<hash>``: the same comparison and overrides always map to the same folder."""
    return Path(root) / f"{config.name}-{config.hash()}"


def fit_hash(config: ComparisonConfig, member: MemberConfig, seed: int) -> str:
    """Identity of one fit: task, member (model, options, training), seed, device and the
    :attr:`~neurosim.models.card.ModelCard.fit_version` of the model's card (left out at version 1,
    so the identities of fits stored before versions existed still hold)."""
    identity = {
        "task": identity_task(config.task.__dict__),
        "member": member.__dict__ | {"training": identity_training(member.training.__dict__)},
        "seed": seed,
        "device": config.device,
    }
    version = MODELS.card(member.model).fit_version
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
    keep_snapshot: bool = True,
) -> xr.Dataset:
    """Fit one member with one seed, or load it if it already finished; returns its Dataset.
    The caller holds the fit's lock (:func:`~neurosim.run_folder.fit_lock`). With
    ``keep_snapshot`` a member whose unsupervised pool is the whole training split keeps the
    checkpoint from the end of its unsupervised phase (:func:`~neurosim.run_folder.snapshot_path`),
    from which a fit with fewer labels continues (:mod:`neurosim.analysis.few_labels`)."""
    result_path = fit_path(directory, member.name, seed)
    checkpoint_path = fit_path(directory, member.name, seed, ".ckpt.pt")
    identity = fit_hash(config, member, seed)
    stored = open_fit(result_path)
    if stored is not None:
        if stored.attrs.get("fit_hash") == identity:
            log.info("%s seed %d already finished; skipping", member.name, seed)
            checkpoint_path.unlink(missing_ok=True)  # left behind by a kill after the fit was saved
            return stored
        log.warning("%s holds a different fit; recomputing", result_path)
    log.info("%s seed %d: training", member.name, seed)
    model = build_model(member, task, seed).to(device)
    trainer = Trainer(
        model, task, member.training, seed, device, config.task.n_per_class, config.task.subset_seed
    )
    snapshot = None
    if keep_snapshot and member.training.unsupervised_pool == "all":
        snapshot = snapshot_path(directory, member.name, seed, identity)
    result = trainer.fit(checkpoint_path=checkpoint_path, progress=progress, snapshot_path=snapshot)
    model.eval()
    attrs = _fit_attrs(config, member, task, seed, identity, result, device)
    attrs["subset_seed"] = trainer.subset_seed  # task.subset_seed resolved ("seed": this fit's seed)
    weights = model.first_layer_weights().float().cpu().numpy()
    operations = measure_operations(model, task, device)
    dataset = fit_dataset(result, weights, model.count_parameters(), attrs, operations)
    # The trained weights, so later analyses never need to retrain.
    save_torch(fit_path(directory, member.name, seed, ".model.pt"), model.state_dict())
    save_dataset(result_path, dataset)
    checkpoint_path.unlink(missing_ok=True)
    _warn_if_failed(member, seed, result)
    return dataset


def _fit_attrs(
    config: ComparisonConfig,
    member: MemberConfig,
    task: Task,
    seed: int,
    identity: str,
    result: FitResult,
    device: torch.device,
) -> dict[str, Any]:
    """The attributes stored with a fit: who it is, its identity, its status and provenance."""
    return {
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
        **result.status.as_attrs(),
        **(result.convergence.as_attrs() if result.convergence else NOT_CHECKED),
        **provenance(device_description(device)),
    }


def _warn_if_failed(member: MemberConfig, seed: int, result: FitResult) -> None:
    """Log a fit that did not learn or diverged (it is stored all the same)."""
    if result.convergence is not None and not result.convergence.learnt:
        log.warning("%s seed %d DID NOT LEARN: %s", member.name, seed, result.convergence.summary)
    if result.status.diverged:
        log.warning(
            "%s seed %d DIVERGED at step %d (%s): stored as diverged, left out of paired tests",
            member.name,
            seed,
            result.status.step,
            result.status.reason,
        )


def prepare_run(config: ComparisonConfig, root: str | Path = "runs") -> tuple[torch.device, Task]:
    """Everything a run checks before it creates anything: the device, the output folder, the
    task and every member's model. Returns the device and the loaded task."""
    device = resolve_device(config.device)
    check_out_folder(root)
    task = load_task(config)
    # n_per_class fits the task (whichever seed draws the subset, the class counts are the task's)
    task.train_subset(config.task.n_per_class, resolve_subset_seed(config.task.subset_seed, 0))
    check_members(config, task)
    return device, task


def dry_run(config: ComparisonConfig, root: str | Path = "runs") -> list[str]:
    """What :func:`run_comparison` would do, as lines of text, after the same checks; creates
    nothing. The first line names the run folder, then one line per fit."""
    device, _ = prepare_run(config, root)
    directory = run_directory(config, root)
    exists = "exists" if directory.is_dir() else "would be created"
    lines = [f"run folder: {directory} ({exists}; device {device})"]
    for member in config.members:
        for seed in config.seeds:
            state = fit_state(directory, member.name, seed, fit_hash(config, member, seed))
            role = "control" if is_control(member.model, member.pairs) else member.role
            lines.append(f"  {member.name} ({member.model}, {role}) seed {seed}: {state}")
    return lines


def run_comparison(
    config: ComparisonConfig,
    root: str | Path = "runs",
    progress: ProgressFactory | None = None,
    directory: str | Path | None = None,
    workers: int | str = 1,
    standby: Standby | None = None,
) -> Path:
    """Fit every member for every seed (skipping finished fits) and write ``results.nc``.

    Args:
        config: the resolved comparison.
        root: parent of the run directory (see :func:`run_directory`).
        progress: makes a per-fit progress callback from a label.
        directory: an explicit run directory instead of ``root/<name>-<hash>`` (sweep cells).
        workers: processes that train fits at once, this one included, sharing this process's
            torch threads (:mod:`neurosim.fit_workers`), or ``"auto"``.
        standby: worker processes started earlier, used before any new one is started.

    Returns:
        The run directory.
    """
    git_sha()  # pin the code version of this run before any fit finishes
    device, task = prepare_run(config, root if directory is None else Path(directory).parent)
    directory = Path(directory) if directory is not None else run_directory(config, root)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "config.json").exists():  # rewritten with results.nc, see run_folder
        write_text(directory / "config.json", json.dumps(config.to_dict(), indent=2, sort_keys=True))
    log.info("run directory %s (task %s, device %s)", directory, task.name, device)

    fits: dict[tuple[str, int], xr.Dataset] = {}

    def fit(member: MemberConfig, seed: int) -> None:
        label = f"{member.name} seed {seed}"
        dataset = run_fit(
            config, member, task, seed, device, directory, progress(label) if progress else None
        )
        fits[(member.name, seed)] = dataset
        log.info("%s: test accuracy %.4f", label, float(dataset.final_test_accuracy))

    with parallel_fits(config, directory, device, workers, standby) as helpers:
        fit_under_locks(config, directory, fit, helpers=helpers)
    attrs = run_attributes(config, task.description, device_description(device))
    write_results(directory, config, lambda member, seed: fit_hash(config, member, seed), attrs, fits)
    return directory


def run_attributes(config: ComparisonConfig, task_description: str, device: str) -> dict:
    """The attributes of a run's ``results.nc``: what was compared, and its provenance."""
    return {
        "comparison": config.name,
        "comparison_version": config.version,
        "description": config.description,
        "task": config.task.name,
        "task_description": task_description,
        "pairs": ",".join(config.pairs),
        "pair_members": json.dumps(config.pair_members()),
        **provenance(device),
    }


def rebuild_results(directory: str | Path) -> Path:
    """Rewrite a run folder's ``results.nc`` from its finished fits (after it was found unreadable)."""
    directory = Path(directory)
    config = stored_config(directory)
    attrs = run_attributes(config, "", "rebuilt from stored fits (see each fit's provenance)")
    write_results(directory, config, lambda member, seed: fit_hash(config, member, seed), attrs)
    return directory / "results.nc"


@contextlib.contextmanager
def parallel_fits(
    config: ComparisonConfig,
    directory: Path,
    device: torch.device,
    workers: int | str,
    standby: Standby | None,
):
    """While the block runs, ``workers - 1`` worker processes train the run's fits too, and this
    process and each worker use an equal share of this process's torch threads (restored after).
    The block gets the workers' pids. The workers are waited for at the end of the block, or
    stopped if it raises."""
    n = choose_workers(workers, torch.get_num_threads(), len(config.members) * len(config.seeds), device.type)
    standby = standby or Standby(0)
    if n == 1:
        standby.dismiss()
        yield set()
        return
    with shared_threads(n) as share:
        log.info("training with %d processes of %d thread%s each", n, share, "s" * (share > 1))
        processes = standby.assign(n - 1, directory, list(config.seeds), share)
        finished = False
        try:
            yield {process.pid for process in processes}
            finished = True
        finally:
            stop_workers(processes, wait=finished)


def fit_under_locks(
    config: ComparisonConfig,
    directory: Path,
    fit: Callable[[MemberConfig, int], None],
    wait_for_others: bool = True,
    helpers: AbstractSet[int] = frozenset(),
    last_first: bool = False,
) -> None:
    """Call ``fit(member, seed)`` for every member and seed, each while holding the fit's lock.

    Fits held by another process are skipped at first (with a message) and, with
    ``wait_for_others``, waited for once nothing else is left; then ``fit`` runs with the lock
    held, finding the finished fit (or the checkpoint of a holder that died). Without it (a
    worker, :mod:`neurosim.worker`), they are left to their holders. Fits held by ``helpers``
    (this run's worker pids) are skipped without a message. ``last_first`` takes the fits in
    reverse order: a worker does, so that it and the main process start at opposite ends and the
    run does not end with both on the same member's long fits.
    """
    pending = [(member, seed) for member in config.members for seed in config.seeds]
    if last_first:
        pending.reverse()
    announced: set[tuple[str, int]] = set()
    while pending:
        for member, seed in list(pending):
            lock = fit_lock(directory, member.name, seed)
            if lock.try_acquire():
                _fit_holding(lock, fit, member, seed)
                pending.remove((member, seed))
            elif (member.name, seed) not in announced:
                announced.add((member.name, seed))
                holder = lock.holder()
                if holder is not None and holder.pid in helpers:
                    continue
                who = _who(holder)
                log.info(
                    "%s seed %d is being trained by %s; doing the other fits first", member.name, seed, who
                )
        if pending and not wait_for_others:
            return
        if pending:  # every fit left is another process's: wait for the first
            member, seed = pending.pop(0)
            lock = fit_lock(directory, member.name, seed)
            lock.acquire(
                on_wait=lambda holder, m=member, s=seed: log.info(
                    "waiting for %s seed %d, which %s is training", m.name, s, _who(holder)
                )
            )
            _fit_holding(lock, fit, member, seed)


def _fit_holding(
    lock: FileLock, fit: Callable[[MemberConfig, int], None], member: MemberConfig, seed: int
) -> None:
    """``fit(member, seed)`` with ``lock`` held, released afterwards whatever happens."""
    try:
        fit(member, seed)
    finally:
        lock.release()


def _who(holder: LockHolder | None) -> str:
    return holder.describe() if holder else "another process"
