"""The analyses that run on a finished run's stored models (``neurosim analyse``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import xarray as xr

from neurosim.analysis.black_box import analyse_attacks
from neurosim.analysis.energy import analyse_energy
from neurosim.analysis.orientation import analyse_orientation
from neurosim.analysis.receptive_fields import analyse_receptive_fields
from neurosim.analysis.representations import analyse_representations
from neurosim.analysis.robustness import analyse_robustness
from neurosim.analysis.tolerance import analyse_tolerance
from neurosim.registry import Registry

ANALYSES: Registry[Callable[[str | Path, int], xr.Dataset]] = Registry("analysis")
ANALYSES.add("representations", analyse_representations)
ANALYSES.add("robustness", analyse_robustness)
ANALYSES.add("tolerance", analyse_tolerance)
ANALYSES.add("orientation", analyse_orientation)
ANALYSES.add("energy", analyse_energy)
ANALYSES.add("attacks", analyse_attacks)
ANALYSES.add("receptive_fields", analyse_receptive_fields)

#: Analyses that need a package extra (:mod:`neurosim.extras`), checked before a run trains.
ANALYSIS_EXTRAS = {"attacks": "attacks"}
