"""The task registry: name -> factory returning a :class:`~neurosim.tasks.base.Task`."""

from __future__ import annotations

from collections.abc import Callable

from neurosim.registry import Registry
from neurosim.tasks.base import Task

TASKS: Registry[Callable[..., Task]] = Registry("task")
