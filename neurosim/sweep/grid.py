"""Sweep grids: ``key=v1,v2,...`` specifications, their cartesian product, and dimension names.

A grid maps a dotted config key (as ``--set`` takes it) to a list of values. Each combination of
values is one *cell*: the comparison with those overrides applied. The key's last component names
the dimension of the merged results (``task.n_per_class`` -> ``n_per_class``); ``seeds`` maps to
the existing ``seed`` dimension, so seeds can be spread over workers too.

Values: each is parsed as a TOML value (``3``, ``0.1``, ``[64, 32]``, ``"relu"``); ``all`` for
``task.n_per_class`` means the whole training set.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from neurosim.config import TOP_KEYS, parse_value
from neurosim.errors import UserError


@dataclass(frozen=True)
class GridAxis:
    """One swept key and its values."""

    key: str
    values: tuple

    @property
    def dim(self) -> str:
        """Name of the merged dataset's dimension for this key."""
        return "seed" if self.key == "seeds" else self.key.split(".")[-1]


def split_top_level(text: str) -> list[str]:
    """Split ``text`` at commas that are not inside brackets or quotes (``[64,32],[128]``)."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_grid_option(spec: str) -> GridAxis:
    """Parse one ``--grid key=v1,v2`` option."""
    if "=" not in spec:
        raise UserError(f"--grid expects key=v1,v2,..., got {spec!r}")
    key, _, text = spec.partition("=")
    values = tuple(parse_value(v) for v in split_top_level(text))
    return make_axis(key.strip(), values)


def make_axis(key: str, values: list | tuple) -> GridAxis:
    """Validate a key and its values into a :class:`GridAxis`."""
    if key.split(".")[0] not in TOP_KEYS or key.split(".")[0] == "sweep":
        raise UserError(
            f"unknown grid key {key!r}; grid keys are config keys under: {', '.join(TOP_KEYS[:-1])}"
        )
    if not values:
        raise UserError(f"grid key {key!r} has no values")
    if key == "seeds":
        values = tuple(v if isinstance(v, list) else [v] for v in values)
    return GridAxis(key, tuple(values))


def grid_from_table(table: dict) -> list[GridAxis]:
    """Axes from a comparison's ``[sweep.grid]`` table (key -> list of values)."""
    axes = []
    for key, values in table.items():
        if not isinstance(values, list):
            raise UserError(f"[sweep.grid] {key} must be a list of values, got {values!r}")
        axes.append(make_axis(key, values))
    return axes


def merge_axes(from_file: list[GridAxis], from_cli: list[GridAxis]) -> list[GridAxis]:
    """Command-line axes replace the file's axes of the same key."""
    cli_keys = {axis.key for axis in from_cli}
    axes = [a for a in from_file if a.key not in cli_keys] + list(from_cli)
    dims = [a.dim for a in axes]
    duplicated = sorted({d for d in dims if dims.count(d) > 1})
    if duplicated:
        raise UserError(f"grid keys give the same dimension name {duplicated}; sweep one of them")
    return axes


def override_text(value: object) -> str:
    """The ``--set`` text of a grid value."""
    if value is None or value == "all":
        return '"all"'
    return json.dumps(value)


def cells(axes: list[GridAxis]) -> list[dict[str, object]]:
    """Every combination of axis values, as ``{key: value}`` dicts (cartesian product)."""
    return [
        dict(zip([a.key for a in axes], combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]
