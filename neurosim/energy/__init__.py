"""Energy: hardware profiles (:mod:`~neurosim.energy.profiles`, data in ``profiles.json``) that price
the exact operation and memory-event counts of :mod:`neurosim.metrics` (:mod:`~neurosim.energy.pricing`:
estimates), and joules read from the machine's counters (:mod:`~neurosim.energy.measurement`:
measurements). The two kinds of number are stored and reported apart."""
