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
from typing import Any

from neurosim.errors import UserError, choices_message

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_VERSION = 1


@dataclass(frozen=True)
class TaskConfig:
    """Which task and which part of its training split."""

    name: str = "digits"
    """Registry key of the task (``neurosim list tasks``)."""
    n_per_class: int | None = None
    """Labelled training examples per class (nested subsets); ``None`` (or ``"all"``) uses all."""
    subset_seed: int = 0
    """Seed of the subset draw, fixed across model seeds so every seed sees the same examples."""
    options: dict = field(default_factory=dict)
    """Keyword options of the task factory (e.g. ``n_bits`` for parity)."""


@dataclass(frozen=True)
class TrainingConfig:
    """The shared training budget and the backprop optimiser."""

    epochs: int = 10
    """Passes over the training set (the same budget for every member)."""
    min_samples_seen: int = 0
    """Train for more epochs if needed to present at least this many samples, so that small
    labelled subsets (learning curves) are not under-trained: epochs = max(epochs, ceil(min / N))."""
    batch_size: int = 32
    """Samples per step. Local rules defined per sample still see them one at a time."""
    optimizer: str = "adam"
    """Optimiser for parameter groups trained by backprop: ``adam`` or ``sgd``."""
    lr: float = 1e-3
    """Learning rate of the backprop optimiser."""
    momentum: float = 0.0
    """SGD momentum (ignored by Adam)."""
    weight_decay: float = 0.0
    """L2 weight decay of the backprop optimiser."""
    lr_schedule: str = "constant"
    """``constant``, or ``cosine``: lr_t = lr * (1 + cos(pi * t / T)) / 2 over the T steps of training."""
    n_checkpoints: int = 12
    """Log-spaced evaluation points over training (epoch ends are always added)."""
    train_eval_limit: int = 10000
    """Training accuracy is measured on at most this many training samples (fixed subset)."""
    unsupervised_epochs: int = 1
    """Passes over the unlabelled pool for each layer that an unsupervised local rule trains
    (Hebbian layers, layer after layer, before the supervised phase); models without such a layer
    ignore it."""
    unsupervised_pool: str = "all"
    """Images the unsupervised phase sees: ``all`` (the whole training split, labels unused: the
    semi-supervised protocol) or ``labelled`` (only the labelled subset ``task.n_per_class``)."""
    unsupervised_batch_size: int = 0
    """Images per step of the unsupervised phase; 0 means ``batch_size``. Hebbian rules normalise
    each step's change by its largest entry, so the number of steps, not only the number of images,
    sets how far the weights move in an epoch (SoftHebb's released code uses small batches)."""


OPTIMIZERS = ("adam", "sgd")
UNSUPERVISED_POOLS = ("all", "labelled")
#: Training keys added after fits were first stored: left out of identities (run folder and fit
#: hashes) while they hold their default, so adding them did not invalidate finished fits.
LATE_TRAINING_KEYS = {"unsupervised_epochs": 1, "unsupervised_pool": "all", "unsupervised_batch_size": 0}
#: Keys that define the shared budget and checkpoint grid; a member may not override them.
BUDGET_KEYS = ("epochs", "min_samples_seen", "batch_size", "n_checkpoints", "train_eval_limit")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class MemberConfig:
    """One model of the comparison: a registry model with options."""

    name: str
    """Member name, unique in the comparison (used in results and reports)."""
    model: str
    """Registry key of the model."""
    options: dict
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

    def to_dict(self) -> dict:
        """Plain-data form (JSON-serialisable), the 'resolved config' stored with results."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> ComparisonConfig:
        """Inverse of :meth:`to_dict` (a run's stored ``config.json``). Training keys added after
        the run was stored take their defaults."""

        def training(table: dict) -> TrainingConfig:
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


def identity_training(training: dict) -> dict:
    """The training table as it enters identities: late keys at their default are left out."""
    return {k: v for k, v in training.items() if LATE_TRAINING_KEYS.get(k, object()) != v}


TOP_KEYS = (
    "version",
    "name",
    "description",
    "seeds",
    "device",
    "pairs",
    "pair_members",
    "extra_models",
    "task",
    "training",
    "models",
    "sweep",
)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _check_keys(table: dict, valid: list[str] | tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in valid:
            raise UserError(f"unknown key {key!r} in {where}; valid keys: {', '.join(valid)}")


def _expect(value: Any, types: type | tuple[type, ...], key: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise UserError(f"config key {key!r} must be {_type_names(types)}, got {value!r}")
    if not isinstance(value, types):
        raise UserError(f"config key {key!r} must be {_type_names(types)}, got {value!r}")
    return value


def _type_names(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


_TRAINING_TYPES: dict[str, type | tuple[type, ...]] = {
    "epochs": int,
    "min_samples_seen": int,
    "batch_size": int,
    "optimizer": str,
    "lr": (int, float),
    "momentum": (int, float),
    "weight_decay": (int, float),
    "lr_schedule": str,
    "n_checkpoints": int,
    "train_eval_limit": int,
    "unsupervised_epochs": int,
    "unsupervised_pool": str,
    "unsupervised_batch_size": int,
}


def _training(table: dict, base: TrainingConfig, where: str) -> TrainingConfig:
    _check_keys(table, _field_names(TrainingConfig), f"[{where}]")
    for key, value in table.items():
        _expect(value, _TRAINING_TYPES[key], f"{where}.{key}")
    merged = dataclasses.replace(base, **table)
    if merged.optimizer not in OPTIMIZERS:
        raise UserError(f"{where}.optimizer: " + choices_message("optimizer", merged.optimizer, OPTIMIZERS))
    if merged.lr_schedule not in LR_SCHEDULES:
        raise UserError(
            f"{where}.lr_schedule: " + choices_message("lr_schedule", merged.lr_schedule, LR_SCHEDULES)
        )
    if merged.unsupervised_pool not in UNSUPERVISED_POOLS:
        raise UserError(
            f"{where}.unsupervised_pool: "
            + choices_message("unsupervised_pool", merged.unsupervised_pool, UNSUPERVISED_POOLS)
        )
    for key in ("epochs", "batch_size", "n_checkpoints", "train_eval_limit", "unsupervised_epochs"):
        if getattr(merged, key) < 1:
            raise UserError(f"{where}.{key} must be >= 1, got {getattr(merged, key)}")
    if merged.unsupervised_batch_size < 0:
        raise UserError(
            f"{where}.unsupervised_batch_size must be >= 0 (0: batch_size), "
            f"got {merged.unsupervised_batch_size}"
        )
    if merged.min_samples_seen < 0:
        raise UserError(f"{where}.min_samples_seen must be >= 0, got {merged.min_samples_seen}")
    if merged.lr <= 0:
        raise UserError(f"{where}.lr must be > 0, got {merged.lr}")
    return merged


def _task(table: dict) -> TaskConfig:
    _check_keys(table, _field_names(TaskConfig), "[task]")
    from neurosim.tasks import TASKS

    name = _expect(table.get("name", "digits"), str, "task.name")
    TASKS.get(name)  # unknown task names list the valid ones
    n_per_class = table.get("n_per_class")
    if n_per_class == "all":  # TOML has no null; "all" spells the whole training set
        n_per_class = None
    if n_per_class is not None:
        _expect(n_per_class, int, "task.n_per_class")
    options = _expect(table.get("options", {}), dict, "task.options")
    return TaskConfig(
        name=name,
        n_per_class=n_per_class,
        subset_seed=_expect(table.get("subset_seed", 0), int, "task.subset_seed"),
        options=dict(options),
    )


def _pair_renames(table: dict, pair_names: tuple[str, ...]) -> dict[str, dict[str, str]]:
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
        slots = _expect(slots, dict, f"pair_members.{pair_name}")
        for slot, member in slots.items():
            if slot not in valid:
                raise UserError(choices_message(f"model of pair {pair_name!r}", slot, valid))
            _expect(member, str, f"pair_members.{pair_name}.{slot}")
        renames[pair_name] = dict(slots)
    return renames


def resolve(raw: dict) -> ComparisonConfig:
    """Validate a raw comparison table and resolve its members and pair policies."""
    from neurosim.device import DEVICE_CHOICES
    from neurosim.models import MODELS
    from neurosim.pairs import PAIRS

    _check_keys(raw, TOP_KEYS, "the comparison")
    raw = {k: v for k, v in raw.items() if k != "sweep"}  # the grid is the sweep runner's business
    version = _expect(raw.get("version", CONFIG_VERSION), int, "version")
    name = _expect(raw.get("name", "comparison"), str, "name")
    seeds = tuple(_expect(s, int, "seeds[]") for s in _expect(raw.get("seeds", [0]), list, "seeds"))
    if not seeds:
        raise UserError("config key 'seeds' must list at least one seed")
    device = _expect(raw.get("device", "auto"), str, "device")
    if device.split(":")[0] not in DEVICE_CHOICES:
        raise UserError(choices_message("device", device, DEVICE_CHOICES))
    training = _training(_expect(raw.get("training", {}), dict, "training"), TrainingConfig(), "training")
    task = _task(_expect(raw.get("task", {}), dict, "task"))
    pair_names = tuple(_expect(p, str, "pairs[]") for p in _expect(raw.get("pairs", []), list, "pairs"))
    extra = tuple(
        _expect(m, str, "extra_models[]") for m in _expect(raw.get("extra_models", []), list, "extra_models")
    )
    model_tables = _expect(raw.get("models", {}), dict, "models")
    renames = _pair_renames(_expect(raw.get("pair_members", {}), dict, "pair_members"), pair_names)
    if not pair_names and not extra:
        raise UserError("the comparison names no pairs and no extra_models; nothing to run")

    def member_table(member: str, model: str | None = None) -> tuple[str, dict, TrainingConfig]:
        table = dict(_expect(model_tables.get(member, {}), dict, f"models.{member}"))
        model_key = _expect(table.pop("model", model or member), str, f"models.{member}.model")
        MODELS.get(model_key)
        overrides = _expect(table.pop("training", {}), dict, f"models.{member}.training")
        shared = sorted(set(overrides) & set(BUDGET_KEYS))
        if shared:
            raise UserError(
                f"models.{member}.training may not set {', '.join(shared)}: the budget "
                f"({', '.join(BUDGET_KEYS)}) is shared by every member; set it under [training]"
            )
        return model_key, table, _training(overrides, training, f"models.{member}.training")

    members: dict[str, MemberConfig] = {}

    def add(
        member: str,
        model_key: str,
        options: dict,
        member_training: TrainingConfig,
        pair: str | None,
        role: str,
    ) -> None:
        existing = members.get(member)
        if existing is not None:
            if existing.model != model_key or existing.options != options:
                raise UserError(
                    f"member {member!r} is needed with different options by two pairs "
                    f"({existing.options} vs {options}); give one of them its own name: "
                    f'[pair_members.<pair>] <model> = "<name>", with its options under [models.<name>]'
                )
            members[member] = dataclasses.replace(
                existing, pairs=(*existing.pairs, *([pair] if pair else []))
            )
            return
        members[member] = MemberConfig(
            member, model_key, options, member_training, (pair,) if pair else (), role
        )

    for pair_name in pair_names:
        pair = PAIRS.get(pair_name)
        named = renames.get(pair_name, {})
        bio = named.get(pair.bio, pair.bio)
        bio_key, bio_options, bio_training = member_table(bio, pair.bio)
        if bio_key != pair.bio:
            raise UserError(f"[models.{bio}] may not change the model of pair {pair_name!r}")
        add(bio, bio_key, bio_options, bio_training, pair_name, "bio")
        for twin in pair.twins:
            member = named.get(twin, twin)
            twin_key, twin_options, twin_training = member_table(member, twin)
            if twin_key != twin:
                raise UserError(f"[models.{member}] may not change the model of pair {pair_name!r}")
            add(
                member,
                twin_key,
                pair.twin_options(bio_options, twin_options, twin),
                twin_training,
                pair_name,
                "twin",
            )
    for member in extra:
        model_key, options, member_training = member_table(member)
        add(member, model_key, options, member_training, None, "reference")
    unused = sorted(set(model_tables) - set(members))
    if unused:
        raise UserError(
            f"[models] has tables for {', '.join(unused)}, which no pair or extra_models entry uses; "
            f"members are: {', '.join(members)}"
        )
    return ComparisonConfig(
        name=name,
        version=version,
        description=_expect(raw.get("description", ""), str, "description"),
        task=task,
        training=training,
        seeds=seeds,
        device=device,
        pairs=pair_names,
        members=tuple(members.values()),
    )


def parse_value(text: str) -> Any:
    """Parse an override value as a TOML value (``3``, ``0.1``, ``[64, 32]``, ``true``), else a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(raw: dict, assignment: str) -> None:
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


def load_raw(path: str | Path) -> dict:
    """Read a comparison TOML file; syntax errors name the file and line."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"comparison file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: {error}") from None


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
    names = set()
    for directory in shipped_comparison_dirs():
        if directory.is_dir():
            names.update(p.stem for p in directory.glob("*.toml"))
    return sorted(names)
