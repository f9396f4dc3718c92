"""neurosim: biologically inspired and conventional neural networks, compared side by side.

A *comparison* (TOML under ``comparisons/``) names a task and pairs of models: a biologically
inspired model and its conventional twin, with what is held equal between them. Running it fits
every member over several seeds and stores one labelled xarray Dataset per fit; a report is
rebuilt from those stored results alone.
"""

__version__ = "0.1.0"
