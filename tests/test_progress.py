"""Progress when stderr is not a terminal: a log line per tenth of each phase, with an ETA."""

from __future__ import annotations

import logging

import pytest

from neurosim.progress import progress_factory


def test_a_line_per_tenth_of_each_phase(caplog):
    update = progress_factory("log")("mlp seed 0")
    with caplog.at_level(logging.INFO, logger="neurosim.progress"):
        for step in range(1, 101):  # the unsupervised phase
            update(step, 100)
        for step in range(1, 8):  # then the supervised one, shorter than ten steps
            update(step, 7)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(": ")[1].split(" %")[0] for line in lines[:10]] == [str(p) for p in range(10, 101, 10)]
    assert lines[0].startswith("mlp seed 0: 10 % of 100 steps, ") and lines[9].endswith("about 0 s left")
    assert len(lines) == 10 + 6 and lines[-1].startswith("mlp seed 0: 100 % of 7 steps")  # 2 of 7 steps: 28 %


def test_a_resumed_phase_counts_from_where_it_resumed(caplog):
    update = progress_factory("log")("x")
    with caplog.at_level(logging.INFO, logger="neurosim.progress"):
        for step in range(51, 101):
            update(step, 100)
    assert [r.getMessage().split(": ")[1].split(" %")[0] for r in caplog.records] == [
        "60",
        "70",
        "80",
        "90",
        "100",
    ]


def test_modes():
    assert progress_factory("off")("x") is None
    assert callable(progress_factory("bar")("x"))
    with pytest.raises(ValueError, match="unknown progress mode"):
        progress_factory("loud")
