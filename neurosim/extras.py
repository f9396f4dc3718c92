"""Optional parts of neurosim and the package extras that install them.

A plain install (``pip install -e .`` in a clone; the distribution is ``neurosim-pairs``, the
import name ``neurosim``) runs comparisons, sweeps, reports and every analysis but one; these need
a library that only some users want, installed by an extra (``pip install -e ".[attacks]"``, or
``"neurosim-pairs[attacks]"``). ``dev`` installs every extra, and CI runs with it.

=============  ======================  =====================================================
extra          module                  what needs it
=============  ======================  =====================================================
``attacks``    ``art``                 the Square Attack of ``--analyses attack_suite``
``reference``  ``brian2``              the Brian2 reference simulations of Diehl & Cook
                                       (cross-checks and ``benchmarks/stdp_*``); brian2 2.9
                                       also caps numpy below 2.4
``slurm``      ``dask_jobqueue``       sweeps on SLURM (``neurosim sweep --cluster slurm``)
``test``       ``snntorch``, pytest    the test suite (snnTorch is the spiking reference)
=============  ======================  =====================================================
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from neurosim.errors import UserError

#: extra -> (the module it installs, what needs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "attacks": ("art", "the Square Attack of the attack suite (analysis 'attack_suite')"),
    "reference": ("brian2", "the Brian2 reference simulations of Diehl & Cook's network"),
    "slurm": ("dask_jobqueue", "sweeps on SLURM (--cluster slurm)"),
}


def missing(extra: str) -> str | None:
    """The one-line error to give when ``extra``'s module is not installed, else ``None``
    (checked without importing it)."""
    module, purpose = EXTRAS[extra]
    if importlib.util.find_spec(module) is not None:
        return None
    install = f"pip install 'neurosim-pairs[{extra}]'"
    return f"{purpose} needs the {module!r} module, which is not installed: {install}"


def require(extra: str) -> ModuleType:
    """Import ``extra``'s module, or raise :class:`UserError` saying which extra installs it."""
    error = missing(extra)
    if error is not None:
        raise UserError(error)
    return importlib.import_module(EXTRAS[extra][0])
