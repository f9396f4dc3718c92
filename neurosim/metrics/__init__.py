"""Metrics: exact operation and memory-event counts (priced by :mod:`neurosim.energy`)."""

from neurosim.metrics.operations import (
    COUNTS,
    MEMORY_COUNTS,
    MEMORY_SIZES,
    OperationCounts,
    count_operations,
    is_binary,
    ledger,
)

__all__ = [
    "COUNTS",
    "MEMORY_COUNTS",
    "MEMORY_SIZES",
    "OperationCounts",
    "count_operations",
    "is_binary",
    "ledger",
]
