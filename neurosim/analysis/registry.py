"""The studies of stored runs (``neurosim analyse``): every module of :data:`STUDY_MODULES`
defines one :class:`~neurosim.analysis.study.Analysis` as its ``ANALYSIS``.

Adding an analysis is one new module ``neurosim/analysis/<module>.py`` (its computation, stored
result, report section and figures; see :mod:`neurosim.analysis.study`) and one edit: its name
here. The list is explicit rather than discovered because its order is the order of the report's
sections, and because the pure functions share the package with the studies. Importing this
module imports every study, which loads no model code (``tests/test_report_imports.py``).
"""

from __future__ import annotations

from importlib import import_module

from neurosim.analysis.study import Analysis
from neurosim.registry import Registry

#: Modules of :mod:`neurosim.analysis` that define an ``ANALYSIS``, in report order.
STUDY_MODULES = (
    "few_labels",
    "representations",
    "robustness",
    "attack_study",
    "tolerance",
    "orientation",
    "receptive_fields",
    "energy",
    "weight_statistics",
)

ANALYSES: Registry[Analysis] = Registry("analysis")

#: Analyses no longer offered -> what replaces them (``neurosim analyse`` names it instead of running).
#: A run folder that still holds their stored result keeps it; the report no longer shows it.
RETIRED: dict[str, str] = {
    "attacks": "its Square Attack and transfer (500 queries, 250 images, no EOT) are part of "
    "'attack_suite', which attacks both members of every pair with the same suite; use "
    "--analyses attack_suite",
}


def _studies() -> tuple[Analysis, ...]:
    """Every module's ``ANALYSIS``, registered in :data:`ANALYSES` (a duplicate name raises)."""
    studies = tuple(import_module(f"neurosim.analysis.{name}").ANALYSIS for name in STUDY_MODULES)
    for study in studies:
        ANALYSES.add(study.name, study)
    return studies


#: Every registered analysis, in the order of the report's sections.
STUDIES: tuple[Analysis, ...] = _studies()
