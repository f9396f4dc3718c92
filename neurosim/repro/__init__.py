"""Repro cards: each model checked end to end against its paper's number (``neurosim repro``).

:mod:`~neurosim.repro.card` (the card files), :mod:`~neurosim.repro.measure` (running them),
:mod:`~neurosim.repro.report` (their reports), :mod:`~neurosim.repro.command` (the command line).
Nothing is imported here, so that the command line builds its parser without loading torch.
"""
