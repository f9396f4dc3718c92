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


def build_model(member: MemberConfig, task: Task, seed: int) -> NeurosimModel:
    """Build a member's model on the CPU from its seed (identical weights on every device)."""
    factory = MODELS.get(member.model)
    check_options(factory, member.options, f"model {member.model!r}", f"models.{member.name}", MODEL_SUPPLIED)
    with seeded(seed):
        try:
            return factory(task.input_shape, task.n_classes, **member.options)
        except (MemoryError, RuntimeError) as error:
            if not isinstance(error, MemoryError) and not _is_allocation_failure(error):
                raise
            raise UserError(
                f"model {member.name!r} ({member.model}) with options {member.options} needs more memory "
                "than this machine can give; choose smaller sizes"
            ) from None


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


def load_task(config: ComparisonConfig) -> Task:
    """Build the comparison's task; bad options name the valid ones."""
    factory = TASKS.get(config.task.name)
    check_options(factory, config.task.options, f"task {config.task.name!r}", "task.options")
    task = factory(**config.task.options)
    return task.validation_task() if config.task.evaluate_on == "validation" else task
