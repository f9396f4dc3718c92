"""Metrics: exact operation counts (and, later, energy under hardware profiles)."""

from neurosim.metrics.operations import COUNTS, OperationCounts, count_operations, is_binary

__all__ = ["COUNTS", "OperationCounts", "count_operations", "is_binary"]
