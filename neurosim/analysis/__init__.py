"""Analyses: pure functions over stored results (statistics so far)."""
