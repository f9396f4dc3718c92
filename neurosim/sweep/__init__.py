"""Sweeps: grids of comparison runs on Dask, resumable and merged into one dataset."""

from neurosim.sweep.run import run_sweep

__all__ = ["run_sweep"]
