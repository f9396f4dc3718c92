"""Analyses, of two kinds:

* **pure functions** over arrays and results, which know nothing of run folders: ``cka``, ``rdm``,
  ``sparseness``, ``statistics``, ``transforms``, ``sample_efficiency``; and, over a model object
  given to them, ``activity`` (recording) and ``attacks`` (FGSM, PGD);
* **studies** of a finished run's stored models, each one module that registers its computation,
  stored result, report section and figures together (:class:`~neurosim.analysis.study.Analysis`),
  listed in :mod:`neurosim.analysis.registry`: ``neurosim analyse RUN_DIR`` (and ``neurosim run
  --analyses``) runs them, each writes ``analyses/<name>.nc`` atomically, and the report writes
  their sections from those files.

The report imports the pure functions and the studies' sections, never model code: a study
imports the run's models only inside its compute function (``tests/test_report_imports.py``).
"""

#: Stimuli (the first test images) the analyses of a run record by default.
N_STIMULI = 2000
