"""Results: the labelled schema, atomic storage and provenance of every run."""

from neurosim.results.schema import combine_fits, fit_dataset, validate_fit
from neurosim.results.storage import atomic_write, open_dataset, save_dataset

__all__ = [
    "atomic_write",
    "combine_fits",
    "fit_dataset",
    "open_dataset",
    "save_dataset",
    "validate_fit",
]
