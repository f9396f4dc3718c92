"""Building what a comparison names: its task, each member's model from its seed, and a finished
fit's trained model from its run folder. The runner builds with these before training; the
analyses of a stored run load with them and need nothing else of the runner."""

from __future__ import annotations

from pathlib import Path

import torch

from neurosim.config import MODEL_SUPPLIED, ComparisonConfig, MemberConfig
from neurosim.device import seeded
from neurosim.errors import UserError
from neurosim.models import MODELS, NeurosimModel
from neurosim.options import check_options
from neurosim.results.storage import load_torch
from neurosim.run_folder import fit_path
from neurosim.tasks import TASKS, Task


def create_model(
    model: str, input_shape: tuple[int, ...], n_classes: int, options: dict, where: str
) -> NeurosimModel:
    """A registered model, untrained, on the CPU, its options checked against its factory
    (``where``: the config key they came from, for the error message)."""
    factory = MODELS.get(model)
    check_options(factory, options, f"model {model!r}", where, MODEL_SUPPLIED)
    try:
        return factory(tuple(input_shape), int(n_classes), **options)
    except (MemoryError, RuntimeError) as error:
        if not isinstance(error, MemoryError) and not _is_allocation_failure(error):
            raise
        raise UserError(
            f"{where} (model {model!r}, options {options}) needs more memory than this machine can "
            "give; choose smaller sizes"
        ) from None


def build_model(member: MemberConfig, task: Task, seed: int) -> NeurosimModel:
    """Build a member's model on the CPU from its seed (identical weights on every device)."""
    with seeded(seed):
        return create_model(
            member.model, task.input_shape, task.n_classes, member.options, f"models.{member.name}"
        )


def _is_allocation_failure(error: RuntimeError) -> bool:
    """torch reports a failed allocation as a RuntimeError (or its OutOfMemoryError subclass)."""
    text = str(error).lower()
    phrases = ("not enough memory", "out of memory", "can't allocate", "cannot allocate")
    return isinstance(error, torch.OutOfMemoryError) or any(phrase in text for phrase in phrases)


def load_fitted_model(directory: str | Path, member: MemberConfig, task: Task, seed: int) -> NeurosimModel:
    """A finished fit's trained model (``fits/<member>/seed<k>.model.pt``), on the CPU, in eval mode."""
    path = fit_path(directory, member.name, seed, ".model.pt")
    if not path.is_file():
        raise UserError(
            f"{path} does not exist: the fit of {member.name} seed {seed} has not finished, or was stored "
            "by a neurosim that did not keep trained models; delete its seed file and rerun the comparison"
        )
    model = build_model(member, task, seed)
    model.load_state_dict(load_torch(path))
    return model.eval()


def create_task(name: str, options: dict) -> Task:
    """A registered task built with its own options; bad options name the valid ones."""
    factory = TASKS.get(name)
    check_options(factory, options, f"task {name!r}", "task.options")
    return factory(**options)


def load_task(config: ComparisonConfig) -> Task:
    """Build the comparison's task (its validation split when it evaluates on validation)."""
    task = create_task(config.task.name, config.task.options)
    return task.validation_task() if config.task.evaluate_on == "validation" else task
