"""Analyses: pure functions over activity and results, and the analyses of a stored run.

``ANALYSES`` holds the analyses ``neurosim analyse RUN_DIR`` (and ``neurosim run --analyses``) can
run on a finished run's stored models; each takes ``(run_dir, n_stimuli)``, writes its
``analyses/<name>.nc`` atomically and returns the Dataset. Imported lazily by the CLI, so the
registry is filled when :mod:`neurosim.analysis.registry` is imported.
"""

#: Stimuli (the first test images) the analyses of a run record by default.
N_STIMULI = 2000
