"""The resolved comparison: frozen dataclasses (task, training budget, members), the keys and
types of a comparison file's top level, and the identities (content hashes) of a comparison."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import annotated_types as at
from pydantic import with_config
from typing_extensions import TypedDict  # pydantic reads its annotations on Python < 3.12

from neurosim.errors import UserError, choices_message
from neurosim.options import (
    STRICT,
    DeviceName,
    Name,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Seed,
)

CONFIG_VERSION = 1
"""The comparison format this neurosim reads (``version`` in a file; not the comparison's own
revision: a changed comparison is a new run folder anyway, since folders are named by content)."""


@dataclass(frozen=True)
class TaskConfig:
    """Which task and which part of its training split."""

    name: str = "digits"
    """Registry key of the task (``neurosim list tasks``)."""
    n_per_class: PositiveInt | Literal["all"] | None = None
    """Labelled training examples per class (nested subsets); ``None`` (or ``"all"``) uses all."""
    subset_seed: Seed | Literal["seed"] = "seed"
    """Seed of the labelled subset's draw: ``"seed"`` (the default) draws it with each fit's own
    seed, so the spread over seeds includes which examples were labelled (the dominant variance
    at a few labels per class); an integer fixes one draw for every seed (the default before
    issue #23 was 0). See :func:`resolve_subset_seed`."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options of the task factory (e.g. ``n_bits`` for parity)."""
    evaluate_on: Literal["test", "validation"] = "test"
    """The split every accuracy is measured on: ``test``, or ``validation`` to choose settings
    without looking at the test split (each fit then trains on the rest of the training split and
    is tested on its validation split, see :meth:`~neurosim.tasks.Task.validation_task`)."""


@dataclass(frozen=True)
class TrainingConfig:
    """The shared training budget and the backprop optimiser."""

    epochs: Annotated[int, at.Ge(1), at.Le(100_000)] = 10
    """Passes over the training set (the same budget for every member)."""
    min_samples_seen: Annotated[int, at.Ge(0), at.Le(10**10)] = 0
    """Train for more epochs if needed to present at least this many samples, so that small
    labelled subsets (learning curves) are not under-trained: epochs = max(epochs, ceil(min / N))."""
    batch_size: Annotated[int, at.Ge(1), at.Le(2**20)] = 32
    """Samples per step. Local rules defined per sample still see them one at a time."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Optimiser for parameter groups trained by backprop: ``adam`` or ``sgd``."""
    lr: PositiveFloat = 1e-3
    """Learning rate of the backprop optimiser."""
    momentum: Annotated[float, at.Ge(0), at.Le(1)] = 0.0
    """SGD momentum (ignored by Adam)."""
    weight_decay: NonNegativeFloat = 0.0
    """L2 weight decay of the backprop optimiser."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """``constant``, or ``cosine``: lr_t = lr * (1 + cos(pi * t / T)) / 2 over the T steps of training."""
    n_checkpoints: Annotated[int, at.Ge(1), at.Le(1000)] = 12
    """Log-spaced evaluation points over training (epoch ends are always added)."""
    train_eval_limit: Annotated[int, at.Ge(1), at.Le(10**9)] = 10000
    """Training accuracy is measured on at most this many training samples (fixed subset)."""
    unsupervised_epochs: Annotated[int, at.Ge(1), at.Le(100_000)] = 1
    """Passes over the unlabelled pool for each layer that an unsupervised local rule trains
    (Hebbian layers, layer after layer, before the supervised phase); models without such a layer
    ignore it."""
    unsupervised_samples: Annotated[int, at.Ge(0), at.Le(10**12)] = 0
    """Images presented to each unsupervised layer: a budget that transfers across dataset sizes
    (a Hebbian rule's progress is counted in updates, and a 12x smaller pool gives 12x fewer
    updates per epoch). 0: ``unsupervised_epochs`` passes over the pool. When set, it replaces
    ``unsupervised_epochs``: each layer is presented that many images in successive passes over
    the pool (k x the pool size is exactly k epochs), and a rule's annealing runs over them."""
    unsupervised_pool: Literal["all", "labelled"] = "all"
    """Images the unsupervised phase sees: ``all`` (the whole training split, labels unused: the
    semi-supervised protocol) or ``labelled`` (only the labelled subset ``task.n_per_class``)."""
    unsupervised_batch_size: Annotated[int, at.Ge(0), at.Le(2**20)] = 0
    """Images per step of the unsupervised phase; 0 means ``batch_size``. Hebbian rules normalise
    each step's change by its largest entry, so the number of steps, not only the number of images,
    sets how far the weights move in an epoch (SoftHebb's released code uses small batches)."""


#: Training keys added after fits were first stored: left out of identities (run folder and fit
#: hashes) while they hold their default, so adding them did not invalidate finished fits.
LATE_TRAINING_KEYS = {
    "unsupervised_epochs": 1,
    "unsupervised_samples": 0,
    "unsupervised_pool": "all",
    "unsupervised_batch_size": 0,
}
LATE_TASK_KEYS = {"evaluate_on": "test"}
#: Keys that define the shared budget and checkpoint grid; a member may not override them.
BUDGET_KEYS = ("epochs", "min_samples_seen", "batch_size", "n_checkpoints", "train_eval_limit")
#: Factory arguments the runner supplies from the task, never the comparison.
MODEL_SUPPLIED = ("input_shape", "n_classes")


@with_config(STRICT)
class ComparisonTable(TypedDict, total=False):
    """The top level of a comparison file as written (types checked before anything else)."""

    version: Literal[1]
    name: Name
    description: str
    seeds: Annotated[list[Seed], at.MinLen(1)]
    device: DeviceName
    pairs: list[str]
    pair_members: dict[str, dict[str, Name]]
    extra_models: list[Name]
    controls: bool
    task: dict[str, Any]
    training: dict[str, Any]
    models: dict[Name, dict[str, Any]]
    sweep: dict[str, Any]


@dataclass(frozen=True)
class MemberConfig:
    """One model of the comparison: a registry model with options."""

    name: str
    """Member name, unique in the comparison (used in results and reports)."""
    model: str
    """Registry key of the model."""
    options: dict[str, Any]
    """Keyword options of the model factory."""
    training: TrainingConfig
    """Training settings after the member's overrides."""
    pairs: tuple[str, ...] = ()
    """Pairs the member belongs to."""
    role: str = "reference"
    """``bio``, ``twin`` or ``reference``."""


@dataclass(frozen=True)
class ComparisonConfig:
    """A resolved comparison: task, members, seeds, device and budget."""

    name: str
    """Short name, used for the run directory."""
    version: int
    """Version of this comparison file (bump when its meaning changes)."""
    description: str
    """What the comparison asks."""
    task: TaskConfig
    """The shared task."""
    training: TrainingConfig
    """The shared training budget."""
    seeds: tuple[int, ...]
    """Model seeds; every member is fitted once per seed."""
    device: str
    """``auto``, ``cpu`` or ``cuda``."""
    pairs: tuple[str, ...]
    """Registry keys of the pairs compared."""
    members: tuple[MemberConfig, ...]
    """Every model fitted, bio models and twins first, then references."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serialisable), the 'resolved config' stored with results."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComparisonConfig:
        """Inverse of :meth:`to_dict` (a run's stored ``config.json``). Training keys added after
        the run was stored take their defaults."""

        def training(table: dict[str, Any]) -> TrainingConfig:
            known = set(_field_names(TrainingConfig))
            return TrainingConfig(**{k: v for k, v in table.items() if k in known})

        members = tuple(
            MemberConfig(
                name=m["name"],
                model=m["model"],
                options=dict(m["options"]),
                training=training(m["training"]),
                pairs=tuple(m.get("pairs", ())),
                role=m.get("role", "reference"),
            )
            for m in data["members"]
        )
        return cls(
            name=data["name"],
            version=int(data["version"]),
            description=data.get("description", ""),
            task=TaskConfig(**data["task"]),
            training=training(data["training"]),
            seeds=tuple(data["seeds"]),
            device=data["device"],
            pairs=tuple(data["pairs"]),
            members=members,
        )

    def hash(self, exclude_seeds: bool = True) -> str:
        """Short content hash; seeds excluded so adding seeds reuses finished fits."""
        data = self.to_dict()
        if exclude_seeds:
            data.pop("seeds")
        data["training"] = identity_training(data["training"])
        data["task"] = identity_task(data["task"])
        for member in data["members"]:
            member["training"] = identity_training(member["training"])
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]

    def pair_members(self) -> dict[str, list[str]]:
        """Each pair's members: ``{pair: [bio member, twin members in the pair's order]}`` (a slot
        filled by a renamed member, see ``[pair_members]``, has that member's name)."""
        from neurosim.pairs import PAIRS

        members = {}
        for name in self.pairs:
            pair = PAIRS.get(name)
            own = [m for m in self.members if name in m.pairs]
            bio = [m.name for m in own if m.role == "bio"]
            twins = sorted((m for m in own if m.role == "twin"), key=lambda m: pair.twins.index(m.model))
            members[name] = bio + [m.name for m in twins]
        return members

    def member(self, name: str) -> MemberConfig:
        for member in self.members:
            if member.name == name:
                return member
        raise UserError(choices_message("member", name, [m.name for m in self.members]))


def identity_training(training: dict[str, Any]) -> dict[str, Any]:
    """The training table as it enters identities: late keys at their default are left out."""
    return {k: v for k, v in training.items() if LATE_TRAINING_KEYS.get(k, object()) != v}


def identity_task(task: dict[str, Any]) -> dict[str, Any]:
    """The task table as it enters identities: late keys at their default are left out, and a
    ``subset_seed`` of ``"seed"`` without ``n_per_class`` (no subset is drawn) enters as 0, the
    default it replaced, so the identities of runs on every label did not change with it."""
    identity = {k: v for k, v in task.items() if LATE_TASK_KEYS.get(k, object()) != v}
    if identity.get("n_per_class") is None and identity.get("subset_seed") == "seed":
        identity["subset_seed"] = 0
    return identity


def resolve_subset_seed(subset_seed: int | str, seed: int) -> int:
    """The seed the labelled subset of a fit with model seed ``seed`` is drawn with:
    ``task.subset_seed``, or ``seed`` itself when it is ``"seed"``."""
    if subset_seed == "seed":
        return int(seed)
    if isinstance(subset_seed, bool) or not isinstance(subset_seed, int):
        raise UserError(f'task.subset_seed must be a seed (an integer >= 0) or "seed", got {subset_seed!r}')
    return subset_seed


TOP_KEYS = tuple(ComparisonTable.__annotations__)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]
