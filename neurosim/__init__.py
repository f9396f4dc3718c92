"""neurosim: biologically inspired and conventional neural networks, compared side by side.

A *comparison* (TOML under ``comparisons/``) names a task and pairs of models: a biologically
inspired model and its conventional twin, with what is held equal between them. Running it fits
every member over several seeds and stores one labelled xarray Dataset per fit; a report is
rebuilt from those stored results alone.

From Python: ``neurosim.run``, ``neurosim.run_sweep``, ``neurosim.open_results``, ``neurosim.build_report``,
``neurosim.load_task`` and ``neurosim.create_model`` (:mod:`neurosim.api`).
"""

from neurosim.version import __version__

#: The Python interface (:mod:`neurosim.api`), imported on first use so that ``import neurosim``
#: stays light (the command line imports what each command needs).
__all__ = ["__version__", "build_report", "create_model", "load_task", "open_results", "run", "run_sweep"]


def __getattr__(name: str):
    if name in __all__[1:]:
        from neurosim import api

        return getattr(api, name)
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
