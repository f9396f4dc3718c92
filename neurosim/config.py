"""Comparison configuration: frozen dataclasses loaded from TOML, with typed ``--set`` overrides.

A comparison file looks like::

    version = 1
    name = "quickstart"
    description = "..."
    seeds = [0, 1, 2]
    device = "auto"
    pairs = ["perceptron_linear", "perceptron_rosenblatt_mlp"]
    extra_models = []                 # members outside any pair (references)

    [task]
    name = "digits"                   # registry key
    n_per_class = 50                  # optional: labelled examples per class (nested subsets)

    [training]
    epochs = 10
    batch_size = 32

    [models.perceptron_rosenblatt]    # options of one member
    n_association_units = 256

    [models.mlp_big]                  # a member with its own name
    model = "mlp"                     # registry key (defaults to the member name)
    hidden_sizes = [256, 128]
    training = { lr = 0.01 }          # per-member training overrides

    [pair_members.diehl_cook_mlp_kmeans]
    mlp = "mlp_dc"                    # this pair's "mlp" is the member "mlp_dc" (its options under
                                      # [models.mlp_dc]), so another pair's "mlp" may differ

A pair's members are named by the pair's model keys unless ``[pair_members.<pair>]`` renames
them; results record each pair's members (``pair_members``) for the reports.

Every unknown key is reported with the valid ones, so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
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
    UnparsedText,
    check_options,
    partial_of,
    table_adapter,
    validate,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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
    subset_seed: Seed = 0
    """Seed of the subset draw, fixed across model seeds so every seed sees the same examples."""
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
    """The task table as it enters identities: late keys at their default are left out."""
    return {k: v for k, v in task.items() if LATE_TASK_KEYS.get(k, object()) != v}


TOP_KEYS = tuple(ComparisonTable.__annotations__)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _training(table: dict[str, Any], base: TrainingConfig, where: str) -> TrainingConfig:
    """``base`` with a training table's overrides, each checked against its field's type."""
    validate(table_adapter(partial_of(TrainingConfig)), table, where)
    return dataclasses.replace(base, **table)


def _task(table: dict[str, Any]) -> TaskConfig:
    """The task table, its name a registered task and its options the factory's."""
    from neurosim.tasks import TASKS

    validate(table_adapter(partial_of(TaskConfig)), table, "task")
    name = table.get("name", "digits")
    factory = TASKS.get(name)  # unknown task names list the valid ones
    options = dict(table.get("options", {}))
    check_options(factory, options, f"task {name!r}", "task.options")
    n_per_class = table.get("n_per_class")
    return TaskConfig(
        name=name,
        n_per_class=None if n_per_class == "all" else n_per_class,  # TOML has no null
        subset_seed=table.get("subset_seed", 0),
        options=options,
        evaluate_on=table.get("evaluate_on", "test"),
    )


def _pair_renames(table: dict[str, Any], pair_names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``[pair_members.<pair>]``: ``<model key> = "<member name>"`` gives a pair's member its own
    name, so that two pairs may use the same model with different options (a 100-unit MLP twin
    beside a 512-unit one); ``[models.<member name>]`` then holds its options."""
    from neurosim.pairs import PAIRS

    renames = {}
    for pair_name, slots in table.items():
        if pair_name not in pair_names:
            raise UserError(choices_message("pair in [pair_members]", pair_name, list(pair_names)))
        pair = PAIRS.get(pair_name)
        valid = [pair.bio, *pair.twins]
        for slot in slots:
            if slot not in valid:
                raise UserError(choices_message(f"model of pair {pair_name!r}", slot, valid))
        renames[pair_name] = dict(slots)
    return renames


def _check_top_level(raw: dict[str, Any]) -> None:
    """Keys and types of the file's top level, before anything is looked up."""
    if "version" in raw and (type(raw["version"]) is not int or raw["version"] != CONFIG_VERSION):
        raise UserError(
            f"config key 'version' is {raw['version']!r}, but this neurosim reads comparison format "
            f"version {CONFIG_VERSION} (the version of the file format, not of the comparison)"
        )
    validate(table_adapter(ComparisonTable), raw, "")
    seeds = raw.get("seeds", [0])
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise UserError(
            f"config key 'seeds' lists {repeated} more than once; each seed is one fit per member"
        )


def resolve(raw: dict[str, Any]) -> ComparisonConfig:
    """Validate a raw comparison table (every key, type and range, every model's and task's
    options) and resolve its members and pair policies. Nothing is created."""
    from neurosim.pairs import PAIRS

    _check_top_level(raw)
    pair_names = tuple(raw.get("pairs", []))
    extra = tuple(raw.get("extra_models", []))
    if not pair_names and not extra:
        raise UserError("the comparison names no pairs and no extra_models; nothing to run")
    training = _training(raw.get("training", {}), TrainingConfig(), "training")
    task = _task(raw.get("task", {}))
    renames = _pair_renames(raw.get("pair_members", {}), pair_names)
    members = _Members(raw.get("models", {}), training)
    for pair_name in pair_names:
        pair = PAIRS.get(pair_name)
        named = renames.get(pair_name, {})
        bio = named.get(pair.bio, pair.bio)
        bio_key, bio_options, bio_training = members.table(bio, pair.bio, pair_name)
        members.add(bio, bio_key, bio_options, bio_training, pair_name, "bio")
        for twin in pair.twins:
            member = named.get(twin, twin)
            twin_key, twin_options, twin_training = members.table(member, twin, pair_name)
            options = pair.twin_options(bio_options, twin_options, twin)
            members.add(member, twin_key, options, twin_training, pair_name, "twin")
    for member in extra:
        model_key, options, member_training = members.table(member)
        members.add(member, model_key, options, member_training, None, "reference")
    members.check_all_used()
    return ComparisonConfig(
        name=raw.get("name", "comparison"),
        version=raw.get("version", CONFIG_VERSION),
        description=raw.get("description", ""),
        task=task,
        training=training,
        seeds=tuple(raw.get("seeds", [0])),
        device=raw.get("device", "auto"),
        pairs=pair_names,
        members=members.resolved(),
    )


class _Members:
    """The members of a comparison as :func:`resolve` collects them from ``[models]`` tables."""

    def __init__(self, model_tables: dict[str, Any], training: TrainingConfig) -> None:
        self.model_tables, self.training = model_tables, training
        self.members: dict[str, MemberConfig] = {}

    def table(
        self, member: str, model: str | None = None, pair: str | None = None
    ) -> tuple[str, dict[str, Any], TrainingConfig]:
        """``(model key, options, training)`` of a member from its ``[models.<member>]`` table."""
        from neurosim.models import MODELS

        table = dict(self.model_tables.get(member, {}))
        model_key = table.pop("model", model or member)
        if not isinstance(model_key, str):
            raise UserError(f"config key 'models.{member}.model' must be a string, got {model_key!r}")
        MODELS.get(model_key)
        if pair is not None and model_key != model:
            raise UserError(f"[models.{member}] may not change the model of pair {pair!r}")
        overrides = table.pop("training", {})
        if not isinstance(overrides, dict):
            raise UserError(f"config key 'models.{member}.training' must be a table, got {overrides!r}")
        shared = sorted(set(overrides) & set(BUDGET_KEYS))
        if shared:
            raise UserError(
                f"models.{member}.training may not set {', '.join(shared)}: the budget "
                f"({', '.join(BUDGET_KEYS)}) is shared by every member; set it under [training]"
            )
        return model_key, table, _training(overrides, self.training, f"models.{member}.training")

    def add(
        self,
        member: str,
        model_key: str,
        options: dict[str, Any],
        training: TrainingConfig,
        pair: str | None,
        role: str,
    ) -> None:
        """Add a member (its options checked against its factory), or a pair to an existing one."""
        from neurosim.models import MODELS

        existing = self.members.get(member)
        if existing is not None:
            if existing.model != model_key or existing.options != options:
                raise UserError(
                    f"member {member!r} is needed with different options by two pairs "
                    f"({existing.options} vs {options}); give one of them its own name: "
                    f'[pair_members.<pair>] <model> = "<name>", with its options under [models.<name>]'
                )
            self.members[member] = dataclasses.replace(
                existing, pairs=(*existing.pairs, *([pair] if pair else []))
            )
            return
        check_options(
            MODELS.get(model_key), options, f"model {model_key!r}", f"models.{member}", MODEL_SUPPLIED
        )
        self.members[member] = MemberConfig(
            member, model_key, options, training, (pair,) if pair else (), role
        )

    def check_all_used(self) -> None:
        unused = sorted(set(self.model_tables) - set(self.members))
        if unused:
            raise UserError(
                f"[models] has tables for {', '.join(unused)}, which no pair or extra_models entry "
                f"uses; members are: {', '.join(self.members)}"
            )

    def resolved(self) -> tuple[MemberConfig, ...]:
        return tuple(self.members.values())


#: Factory arguments the runner supplies from the task, never the comparison.
MODEL_SUPPLIED = ("input_shape", "n_classes")


def parse_value(text: str) -> Any:
    """Parse an override value as a TOML value (``3``, ``0.1``, ``[64, 32]``, ``true``). Text that
    is not TOML is kept as :class:`~neurosim.options.UnparsedText`: valid for a key declared a string
    (``--set device=cpu``), an error naming the key for any other."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return UnparsedText(text)


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` override to a raw comparison table, in place."""
    if "=" not in assignment:
        raise UserError(f"--set expects key=value, got {assignment!r}")
    key, _, text = assignment.partition("=")
    parts = key.strip().split(".")
    if parts[0] not in TOP_KEYS:
        raise UserError(f"unknown key {parts[0]!r} in --set {assignment}; valid keys: {', '.join(TOP_KEYS)}")
    table = raw
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise UserError(f"--set {assignment}: {part!r} is not a table")
    table[parts[-1]] = parse_value(text.strip())


def load_raw(path: str | Path, what: str = "comparison file") -> dict[str, Any]:
    """Read a TOML file (a comparison, or ``what`` else); every error is one line naming the file
    (syntax errors also the line)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a folder; give a {what} (.toml) or a shipped name")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"{what} {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a valid TOML file: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read {what} {str(path)!r}: {error.strerror}") from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ComparisonConfig:
    """Load, override and resolve a comparison file."""
    raw = load_raw(path)
    for assignment in overrides:
        apply_override(raw, assignment)
    return resolve(raw)


def shipped_comparison_dirs() -> list[Path]:
    """Folders searched for comparisons named without a path: ./comparisons, then the repository's."""
    repo = Path(__file__).resolve().parents[1] / "comparisons"
    here = Path.cwd() / "comparisons"
    return [here] if here.resolve() == repo.resolve() else [here, repo]


def find_comparison(name_or_path: str) -> Path:
    """A path as given, or a shipped comparison by name (``quickstart`` -> comparisons/quickstart.toml)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    for directory in shipped_comparison_dirs():
        candidate = directory / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    raise UserError(choices_message("comparison", name_or_path, list_comparisons()))


def list_comparisons() -> list[str]:
    """Names of the shipped comparisons."""
    names: set[str] = set()
    for directory in shipped_comparison_dirs():
        if directory.is_dir():
            names.update(p.stem for p in directory.glob("*.toml"))
    return sorted(names)
