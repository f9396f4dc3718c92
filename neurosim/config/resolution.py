"""Resolution of a raw comparison table (a parsed TOML file) into a
:class:`~neurosim.config.comparison.ComparisonConfig`: every key, type and range checked, every
model's and task's options checked against its factory, members and pair policies resolved."""

from __future__ import annotations

import dataclasses
from typing import Any

from neurosim.config.comparison import (
    BUDGET_KEYS,
    CONFIG_VERSION,
    MODEL_SUPPLIED,
    ComparisonConfig,
    ComparisonTable,
    MemberConfig,
    TaskConfig,
    TrainingConfig,
)
from neurosim.errors import UserError, choices_message
from neurosim.options import check_options, partial_of, table_adapter, validate

#: The unlabelled budget a control takes from its bio model (:meth:`_Members.control_training`).
UNLABELLED_KEYS = (
    "unsupervised_epochs",
    "unsupervised_samples",
    "unsupervised_pool",
    "unsupervised_batch_size",
)


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
        subset_seed=table.get("subset_seed", "seed"),
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
            if twin in pair.controls and not raw.get("controls", True):
                continue  # ``controls = false``: the pair's unsupervised controls are left out
            member = named.get(twin, twin)
            twin_key, twin_options, twin_training = members.table(member, twin, pair_name)
            if twin in pair.controls:
                twin_training = members.control_training(member, twin_training, bio_training)
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

    def control_training(self, member: str, own: TrainingConfig, bio: TrainingConfig) -> TrainingConfig:
        """A control's training: the bio model's unlabelled budget (:data:`UNLABELLED_KEYS`), so
        that "Hebbian learning or any unsupervised learning?" is asked at the same budget, unless
        the control's own ``[models.<member>.training]`` table states any of those keys (then all
        of them are its own: a budget is not half inherited)."""
        own_table = self.model_tables.get(member, {}).get("training", {})
        if set(own_table) & set(UNLABELLED_KEYS):
            return own
        return dataclasses.replace(own, **{key: getattr(bio, key) for key in UNLABELLED_KEYS})

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
