"""One generic registry: register by decorator, look up by name, list by pattern.

Every extensible family in neurosim (tasks, models, rules, pairs) is a :class:`Registry`. Keys are
lower_snake with the family first (``perceptron_rosenblatt``, ``snn_mlp``), so ``list("snn_*")``
finds a family. Registering a name twice is an error, because silently replacing a model would
change published comparisons without anyone noticing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from neurosim.errors import UserError, choices_message

T = TypeVar("T")

_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry(Generic[T]):
    """A named collection of entries of one kind.

    Args:
        kind: what the entries are, used in error messages ("model", "task", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``entry`` under ``name`` and returns it unchanged."""

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name``; raises if the name is malformed or taken."""
        if not _KEY_PATTERN.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be lower_snake_case")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """Return the entry called ``name``; unknown names raise :class:`UserError` with choices."""
        try:
            return self._entries[name]
        except KeyError:
            raise UserError(choices_message(self.kind, name, self.list())) from None

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style ``pattern``."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)
