"""Typed options: the types and ranges of every configurable value, and their validation.

A comparison's values are checked against the annotations of the code that takes them: a model's
or task's options against its factory's signature, the training and task tables against the
fields of :class:`~neurosim.config.TrainingConfig` and :class:`~neurosim.config.TaskConfig`.
There is no second table of types to keep in step. The annotations use the aliases below
(``Width``, ``PositiveFloat``, ``Literal[...]`` for enumerations), which carry their ranges.

Validation is pydantic v2's (a well-kept library that reads ``typing.Annotated`` ranges and
writes JSON Schema from the same types), in strict mode on the JSON form of the value: an integer
is never a string, a string is never a list, ``true`` is not ``1``; an integer is accepted where a
float is declared (TOML writes ``lr = 1``). Every float must be finite. The first problem becomes
one line naming the key, the value and what is allowed.

Validation only checks: the options a factory receives are the ones the user wrote, so run and
fit identities (hashes of the options) do not depend on it.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import json
import math
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import annotated_types as at
from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, create_model
from typing_extensions import TypedDict  # pydantic reads its annotations on Python < 3.12

from neurosim.errors import UserError

#: Units in one layer (or prototypes, planes, channels): a bound that keeps a typo such as
#: ``n_hidden = 2000000000`` a clear error instead of an allocation failure.
MAX_UNITS = 1_000_000
#: Largest seed: seeds enter 64-bit generator seeds as ``seed * 1_000_003 + offset``.
MAX_SEED = 2**32 - 1

PositiveInt = Annotated[int, at.Ge(1)]
NonNegativeInt = Annotated[int, at.Ge(0)]
Width = Annotated[int, at.Ge(1), at.Le(MAX_UNITS)]
"""A number of units, prototypes or channels: 1 to :data:`MAX_UNITS`."""
Widths = Annotated[tuple[Width, ...], at.MinLen(1)]
"""A non-empty list of widths (layer sizes)."""
PositiveFloat = Annotated[float, at.Gt(0)]
NonNegativeFloat = Annotated[float, at.Ge(0)]
Fraction = Annotated[float, at.Ge(0), at.Le(1)]
"""A number in [0, 1]."""
PositiveFloats = Annotated[tuple[PositiveFloat, ...], at.MinLen(1)]
Seed = Annotated[int, at.Ge(0), at.Le(MAX_SEED)]
ImageSize = Annotated[int, at.Ge(4), at.Le(1024)]
"""Side of a square retina in pixels."""
KernelSize = Annotated[int, at.Ge(1), at.Le(64)]
Padding = Annotated[int, at.Ge(0), at.Le(64)]
"""Pixels of padding or margin around an image."""
TimeSteps = Annotated[int, at.Ge(1), at.Le(100_000)]
"""Simulation steps per input."""
DropoutRate = Annotated[float, at.Ge(0), at.Lt(1)]
OpenFraction = Annotated[float, at.Gt(0), at.Lt(1)]
"""A number strictly between 0 and 1 (a threshold)."""
FanIn = Annotated[int, at.Ge(0), at.Le(100_000)]
"""Connections per unit."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description="a name of 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"),
]
"""A comparison or member name: 1-64 letters, digits, ``_``, ``.``, ``-``, not starting with ``.``
or ``-``. Names become folder and file names and appear in reports, so nothing else is allowed
(no ``/``, no ``..`` path, no markup)."""
DeviceName = Annotated[
    str,
    StringConstraints(pattern=r"^(auto|cpu|cuda(:[0-9]{1,2})?)$"),
    Field(description='"auto", "cpu", "cuda" or "cuda:N"'),
]
"""``auto``, ``cpu``, ``cuda`` or ``cuda:N``."""


def checked_names(names: list[str], source: Path) -> list[str]:
    """``names`` read back from a stored file, refused unless each is a valid :data:`Name`: names
    become file names and report text, and a shared run folder may come from anyone."""
    for name in names:
        if not re.match(NAME_PATTERN, name):
            raise UserError(
                f"{source} names a member {name!r}, which is not a valid name; "
                "neurosim did not write this file as it is"
            )
    return names


STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class UnparsedText(str):
    """A ``--set`` value that is not a TOML value, kept as text: valid only where a string is
    declared; elsewhere the error says it was not valid TOML."""


@functools.cache  # one shape per class, so that its validator is built once (table_adapter)
def partial_of(cls: type) -> type:
    """A ``TypedDict`` (every key optional) of a dataclass's fields and annotated types: the shape
    of a table that overrides some of them. Fields whose type is itself a dataclass are left out
    (they cannot be overridden from a table)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {
        f.name: hints[f.name] for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(hints[f.name])
    }
    shape = TypedDict(f"{cls.__name__}Table", fields, total=False)  # type: ignore[operator]
    shape.__pydantic_config__ = STRICT  # unknown keys are errors in nested tables too
    return shape


def factory_parameters(factory: Callable, skip: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
    """``{name: (annotation, default)}`` of a factory (function or class) minus ``skip``."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    hints = typing.get_type_hints(target, include_extras=True)
    parameters = {}
    for name, parameter in inspect.signature(factory).parameters.items():
        if name in skip or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        parameters[name] = (hints.get(name, Any), default)
    return parameters


@functools.cache
def options_adapter(factory: Callable, skip: tuple[str, ...] = ()) -> TypeAdapter:
    """A strict validator of a factory's keyword options, built from its signature."""
    fields = dict(factory_parameters(factory, skip))
    name = getattr(factory, "__name__", "options")
    return TypeAdapter(create_model(f"{name}_options", __config__=STRICT, **fields))


@functools.cache
def table_adapter(shape: type) -> TypeAdapter:
    """A validator of a table of the given ``TypedDict`` shape, which carries the :data:`STRICT`
    configuration (:func:`partial_of`, or ``@with_config(STRICT)``)."""
    return TypeAdapter(shape)


def check_options(
    factory: Callable, options: dict, what: str, where: str, skip: tuple[str, ...] = ()
) -> None:
    """Check ``options`` against ``factory``'s signature: unknown names list the valid ones; a
    value of the wrong type or range names the key, the value and what is allowed.

    Args:
        factory: a registered model or task factory (function or class).
        options: the keyword options the user wrote.
        what: the factory in words, e.g. ``model 'mlp'``.
        where: the dotted config key of the options table, e.g. ``models.mlp``.
        skip: parameters the caller supplies itself (``input_shape``, ``n_classes``).

    Raises:
        UserError: one line, for the first problem found.
    """
    valid = list(factory_parameters(factory, skip))
    for key in options:
        if key not in valid:
            raise UserError(
                f"unknown option {key!r} for {what}; valid options: {', '.join(valid) or '(none)'}"
            )
    validate(options_adapter(factory, skip), options, where)


def validate(adapter: TypeAdapter, value: Any, where: str) -> None:
    """Validate ``value`` (TOML data) with ``adapter``; raise a one-line :class:`UserError`."""
    _refuse_dates(value, where)
    try:
        adapter.validate_json(json.dumps(value, allow_nan=True), strict=True)
    except ValidationError as error:
        raise problem(error, adapter.json_schema(mode="validation"), value, where) from None


def _refuse_dates(value: Any, where: str) -> None:
    """TOML has dates and times; no option is one (and JSON, which identities hash, has none)."""
    if isinstance(value, (datetime.date, datetime.time)):
        raise UserError(f"config key {where!r} must not be a date or time, got {value.isoformat()!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_dates(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for item in value:
            _refuse_dates(item, where)


def problem(error: ValidationError, schema: dict, value: Any, where: str) -> UserError:
    """The first error of ``error`` as one line: key, value given, what is allowed.

    The key is the dotted path of the table entry at fault (list positions and union branches are
    left out: the message shows the whole entry), the allowed values come from its JSON Schema.
    """
    first = error.errors()[0]
    definitions = schema.get("$defs", {})
    parts = [part for part in first["loc"] if isinstance(part, str)]
    if "[key]" in parts:  # a table's key (a name) is at fault, not its value
        parts = parts[: parts.index("[key]") - 1]
    if first["type"] == "extra_forbidden":
        *parts, unknown = parts
    field, given, path = schema, value, []
    for part in parts:
        child = _child(field, part, definitions)
        if child is None:  # a union branch or a dict key marker, not a table entry
            break
        field, given = child, given.get(part) if isinstance(given, dict) else None
        path.append(part)
    key = ".".join(p for p in [where, *path] if p)
    if "[key]" in first["loc"]:
        names = _resolve(field, definitions).get("propertyNames", {})
        allowed = names.get("description") or describe(names, definitions)
        return UserError(f"the name {first['input']!r} in [{key}] is not allowed: it must be {allowed}")
    if first["type"] == "extra_forbidden":
        valid = list(_resolve(field, definitions).get("properties", {}))
        inside = f"[{key}]" if key else "the comparison"
        return UserError(f"unknown key {unknown!r} in {inside}; valid keys: {', '.join(valid) or '(none)'}")
    if first["type"] == "missing":
        return UserError(f"config key {key!r} is required")
    allowed = describe(field, definitions) or first["msg"].lower()
    note = ""
    if isinstance(given, UnparsedText):
        note = " (a --set value that is not TOML is read as text: quote strings, write lists as [1, 2])"
    return UserError(f"config key {key!r} must be {allowed}, got {_shown(given)}{note}")


def _child(schema: dict, part: str, definitions: dict) -> dict | None:
    """The schema of entry ``part`` of a table schema, or ``None`` if ``part`` is not an entry."""
    resolved = _resolve(schema, definitions)
    if part in resolved.get("properties", {}):
        return resolved["properties"][part]
    if part.startswith("["):
        return None
    extra = resolved.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    patterns = list(resolved.get("patternProperties", {}).values())
    return patterns[0] if len(patterns) == 1 else None


def _resolve(schema: dict, definitions: dict) -> dict:
    """``schema`` with a ``$ref`` (or an optional ``anyOf [X, null]``) replaced by its target."""
    if "$ref" in schema:
        return _resolve(definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), definitions)
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0], definitions)
    return schema


def _shown(value: Any) -> str:
    text = repr(str(value)) if isinstance(value, UnparsedText) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(schema: dict, definitions: dict | None = None) -> str:
    """What a JSON Schema fragment allows, in words: ``an integer in [1, 1000000]``."""
    definitions = definitions or {}
    if "$ref" in schema:
        return describe(definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), definitions)
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "anyOf" in schema:
        parts = [describe(s, definitions) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(p for p in parts if p)
    kind = schema.get("type")
    if kind == "integer":
        return "an integer" + _bounds(schema)
    if kind == "number":
        return "a finite number" + _bounds(schema)
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        if schema.get("description"):
            return schema["description"]
        return "a string" + (f" matching {schema['pattern']}" if "pattern" in schema else "")
    if kind == "array":
        if "prefixItems" in schema:
            items = [describe(s, definitions) for s in schema["prefixItems"]]
            if len(set(items)) == 1:
                return f"a list of exactly {len(items)} values (each {items[0]})"
            return f"a list of exactly {len(items)} values ({'; '.join(items)})"
        items = describe(schema.get("items", {}), definitions) or "any value"
        low = schema.get("minItems", 0)
        return f"a {'non-empty ' if low == 1 else ''}list (each {items})"
    if kind == "object":
        return "a table"
    return ""


def _bounds(schema: dict) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open, high_open = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low is not None and high is not None:
        return f" in [{_number(low)}, {_number(high)}]"
    parts = []
    if low is not None:
        parts.append(f">= {_number(low)}")
    if low_open is not None:
        parts.append(f"> {_number(low_open)}")
    if high is not None:
        parts.append(f"<= {_number(high)}")
    if high_open is not None:
        parts.append(f"< {_number(high_open)}")
    return (" " + " and ".join(parts)) if parts else ""


def _number(value: float) -> str:
    return (
        str(int(value))
        if isinstance(value, float) and math.isfinite(value) and value == int(value)
        else str(value)
    )


def json_schema(adapter: TypeAdapter) -> dict:
    """The JSON Schema (validation mode) of what ``adapter`` accepts."""
    return adapter.json_schema(mode="validation")
