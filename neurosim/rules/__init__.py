"""Learning rules: backprop and local rules (pure delta functions plus thin rule objects).

Importing this package registers every rule in :data:`RULES`.
"""

from neurosim.rules import (  # noqa: F401  (registration)
    assignment,
    backprop,
    competitive,
    hebbian,
    kmeans,
    perceptron,
    stdp,
)
from neurosim.rules.base import LocalRule, write_delta
from neurosim.rules.registry import RULES

__all__ = ["RULES", "LocalRule", "write_delta"]
