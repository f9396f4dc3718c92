"""The comparison format as JSON Schema (``neurosim schema``), for editors and other tools.

Built from the same annotations that :func:`neurosim.config.resolve` validates with (the fields of
:class:`~neurosim.config.TrainingConfig` and :class:`~neurosim.config.TaskConfig`, and every
registered model's and task's factory signature), so it cannot drift from the code. Editors with
a TOML language server (Taplo, Even Better TOML) use it for completion and checking::

    #:schema ./neurosim-comparison.schema.json

What JSON Schema cannot express is checked only by ``resolve``: floats must be finite, a seed may
appear once, a renamed pair member must belong to a listed pair, a twin must match its bio model.
"""

from __future__ import annotations

import copy
from typing import Any

from neurosim.config import BUDGET_KEYS, MODEL_SUPPLIED, ComparisonTable, TaskConfig, TrainingConfig
from neurosim.options import NAME_PATTERN, options_adapter, partial_of, table_adapter

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Definitions:
    """Collects the ``$defs`` of sub-schemas into one table (the same name must mean the same)."""

    def __init__(self) -> None:
        self.table: dict[str, Any] = {}

    def take(self, schema: dict) -> dict:
        """``schema`` without its ``$defs``, which join the shared table."""
        schema = copy.deepcopy(schema)
        for name, definition in schema.pop("$defs", {}).items():
            if self.table.setdefault(name, definition) != definition:
                raise RuntimeError(f"two different schema definitions are named {name!r}")
        return schema

    def add(self, name: str, schema: dict) -> dict:
        """Define ``name`` and return a reference to it."""
        self.table[name] = schema
        return {"$ref": f"#/$defs/{name}"}


def comparison_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a comparison file."""
    from neurosim.models import MODELS
    from neurosim.pairs import PAIRS
    from neurosim.tasks import TASKS

    definitions = _Definitions()
    schema = definitions.take(table_adapter(ComparisonTable).json_schema(mode="validation"))
    properties = schema["properties"]
    properties["version"]["description"] = "comparison format version (1)"
    properties["pairs"] = {"type": "array", "items": {"enum": PAIRS.list()}, "description": "pairs compared"}
    properties["pair_members"] = _pair_members_schema(PAIRS, properties["extra_models"]["items"])
    training = definitions.take(table_adapter(partial_of(TrainingConfig)).json_schema(mode="validation"))
    properties["training"] = training
    member_training = copy.deepcopy(training)
    for key in BUDGET_KEYS:
        member_training["properties"].pop(key, None)
    properties["task"] = _task_schema(TASKS, definitions)
    properties["models"] = _models_schema(MODELS, definitions, member_training)
    properties["sweep"] = {
        "type": "object",
        "properties": {"grid": {"type": "object", "additionalProperties": {"type": "array", "minItems": 1}}},
        "additionalProperties": False,
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "neurosim comparison",
        "description": "A comparison file of neurosim (TOML); see neurosim/config/__init__.py.",
        **schema,
        "$defs": definitions.table,
    }


def _pair_members_schema(pairs, name: dict) -> dict:
    """``[pair_members.<pair>]``: each pair's model keys, renamed to member names (``name``)."""
    per_pair = {}
    for pair_name in pairs.list():
        pair = pairs.get(pair_name)
        slots = [pair.bio, *pair.twins]
        per_pair[pair_name] = {
            "type": "object",
            "properties": {slot: name for slot in slots},
            "additionalProperties": False,
        }
    return {"type": "object", "properties": per_pair, "additionalProperties": False}


def _task_schema(tasks, definitions: _Definitions) -> dict:
    """The task table: its name a registered task, its options that task's."""
    schema = definitions.take(table_adapter(partial_of(TaskConfig)).json_schema(mode="validation"))
    schema["properties"]["name"] = {"enum": tasks.list(), "default": "digits"}
    conditions = []
    for name in tasks.list():
        options = definitions.take(options_adapter(tasks.get(name)).json_schema(mode="validation"))
        reference = definitions.add(f"task_options_{name}", options)
        when = {"properties": {"name": {"const": name}}, "required": ["name"]}
        if name == "digits":  # the default task
            when = {"anyOf": [when, {"not": {"required": ["name"]}}]}
        conditions.append({"if": when, "then": {"properties": {"options": reference}}})
    schema["allOf"] = conditions
    return schema


def _models_schema(models, definitions: _Definitions, member_training: dict) -> dict:
    """``[models.<member>]``: a model's options, ``model`` (its key) and ``training`` (per-member
    overrides, budget keys excepted). A member's model is ``model``, else its pair slot (when
    ``[pair_members]`` renamed it), else its name; a schema cannot follow that, so every member
    table may hold any model's options, and a member named like a model lists that model first
    (editors offer its options)."""
    members = {}
    for key in models.list():
        options = definitions.take(
            options_adapter(models.get(key), MODEL_SUPPLIED).json_schema(mode="validation")
        )
        options["properties"]["model"] = {"const": key}
        options["properties"]["training"] = member_training
        members[key] = definitions.add(f"member_{key}", options)
    return {
        "type": "object",
        "description": "options per member; a member is named by its model key unless renamed",
        "properties": {
            key: {"anyOf": [reference, *(r for k, r in members.items() if k != key)]}
            for key, reference in members.items()
        },
        "additionalProperties": {"anyOf": list(members.values())},
        "propertyNames": {"pattern": NAME_PATTERN},
    }
