"""Tasks: the shared datasets every model of a comparison trains and is tested on.

Importing this package registers every task in :data:`TASKS`.
"""

from neurosim.tasks import boolean, digits, idx, mnist_subset, synthetic  # noqa: F401  (registration)
from neurosim.tasks.base import Task
from neurosim.tasks.registry import TASKS

__all__ = ["TASKS", "Task"]
