"""The energy section's new parts: a protocol's windows (by hand), the sensitivity table's flips,
and the summary cells (a ratio with its interval, a winner only when the interval excludes 1)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurosim.analysis.energy_sensitivity import ASSUMPTIONS, REFERENCE, price_assumptions, sensitivity_table
from neurosim.analysis.energy_summary import energy_summary
from neurosim.energy.pricing import TERMS
from neurosim.energy.protocol import WINDOWS, split_row


def _protocol_row() -> dict[str, float]:
    """Per image: 2 presentations (1 re-presentation) of 4 input + 2 rest steps, 3 pairs (6
    neurons): 72 neuron-steps, 12 in the first rest, 36 in the re-presentation; 10 input spikes
    x 3 targets = 30 input ACs and 4 recurrent ones."""
    return {
        "neuron_updates": 72.0,
        "conductance_updates": 72.0,
        "neuron_adds": 72.0 * 12,
        "rest_neuron_updates": 12.0,
        "repeat_neuron_updates": 36.0,
        "presentations": 2.0,
        "effective_acs": 34.0,
        "weight_reads": 30.0,
        "state_reads": 34.0 + 72.0,
        "spikes": 3.0,
        "weight_elements": 9,
        "input_elements": 3,
        "state_elements": 6,
    }


def test_a_protocol_splits_into_windows_that_add_up():
    row = _protocol_row()
    windows = split_row(row)
    assert list(windows) == list(WINDOWS)
    presentation, rest, repeat = (windows[w] for w in WINDOWS)
    # Neuron-steps exactly: 72 - 12 - 36 = 24 in the first presentation's input window.
    assert (presentation["neuron_updates"], rest["neuron_updates"], repeat["neuron_updates"]) == (24, 12, 36)
    assert rest["neuron_adds"] == 12 * 12
    # Spike-driven work in the input windows: half each (2 presentations), none in the rest.
    assert (presentation["weight_reads"], rest["weight_reads"], repeat["weight_reads"]) == (15, 0, 15)
    # A state access: one per synaptic event (by input windows) plus one per neuron-step.
    assert rest["state_reads"] == 12 and presentation["state_reads"] == 17 + 24
    for key in ("neuron_updates", "effective_acs", "state_reads", "spikes", "presentations"):
        assert sum(w[key] for w in windows.values()) == pytest.approx(row[key])
    assert all(w["weight_elements"] == 9 for w in windows.values())
    # A layer without a protocol belongs to the presentation.
    readout = split_row({"effective_macs": 5.0, "weight_elements": 4})
    assert readout["presentation"]["effective_macs"] == 5 and readout["rest"]["effective_macs"] == 0


def test_assumptions_price_the_same_ledger_differently():
    row = _protocol_row()
    totals = dict(
        zip([a.name for a in ASSUMPTIONS], price_assumptions({"l": row}, {"l": "spiking"}), strict=True)
    )
    assert ASSUMPTIONS[0] is REFERENCE
    # The conductance neuron priced as a LIF update costs less than counted (5.5 against 41.2 pJ
    # per neuron-step, if only adds are counted here: 12 x 0.9 = 10.8 pJ).
    as_lif = totals["conductance neuron as a LIF update (fp32 compute-only)"]
    assert as_lif == pytest.approx(72 * 5.5 + 34 * 0.9 + 3 * 0.9)
    assert totals[REFERENCE.name] == pytest.approx(72 * 10.8 + 34 * 0.9 + 3 * 0.9)


def _dataset(bio: list[list[float]], twin: list[list[float]], names: list[str]) -> xr.Dataset:
    """``sensitivity`` and ``training_sensitivity`` of two members: ``[assumption][seed]`` pJ."""
    values = np.array([np.array(bio).T, np.array(twin).T])  # [model, seed, assumption]
    coords = {"model": ["bio", "twin"], "seed": [0, 1, 2], "assumption": names}
    dims = ("model", "seed", "assumption")
    return xr.Dataset(
        {"sensitivity": (dims, values), "training_sensitivity": (dims, values * 10)}, coords=coords
    )


def test_the_sensitivity_table_says_which_assumption_flips_the_winner():
    names = ["reference", "memory-aware", "loihi", "tie"]
    bio = [[1.0, 1.1, 0.9], [9.0, 9.5, 8.5], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    twin = [[2.0, 2.0, 2.0], [3.0, 3.0, 3.0], [np.nan] * 3, [2.0, 2.0, 2.0]]
    table = sensitivity_table(_dataset(bio, twin, names), "bio", "twin")
    rows = {row[0]: row for row in table.rows}
    assert rows["reference"][2:4] == ["bio", "(reference)"]
    assert rows["memory-aware"][1:4] == [
        f"{np.exp(np.mean(np.log([3.0, 9.5 / 3, 8.5 / 3]))):.3g}",
        "twin",
        "flips",
    ]
    assert rows["loihi"][1:4] == ["n/a (unpriced)", "n/a", ""]
    assert rows["tie"][2:4] == ["tie", ""]
    assert rows["memory-aware"][5:7] == ["twin", "flips"]  # the same for training (x10)


def _energy(bio: float, twin: float, spread: float) -> xr.Dataset:
    """An energy result of two members, 3 seeds, the reference profiles, compute only (a MAC term)
    and memory (a weight-read term), with training ledgers of one phase."""
    profiles = ["horowitz45_fp32_compute", "horowitz45_fp32_memory"]
    energy = np.zeros((2, 3, 2, len(TERMS)))
    noise = np.array([1 - spread, 1.0, 1 + spread])
    energy[0, :, :, TERMS.index("mac")] = bio * 1e6 * noise[:, None]
    energy[1, :, :, TERMS.index("mac")] = twin * 1e6 * noise[:, None]
    energy[:, :, 0, TERMS.index("weight_read") :] = np.nan
    training = np.broadcast_to(energy[:, :, None, None], (2, 3, 2, 1, 2, len(TERMS)))
    dims = ("model", "seed", "profile", "term")
    return xr.Dataset(
        {
            "energy": (dims, energy),
            "events": (("model", "seed", "term"), np.ones((2, 3, len(TERMS)))),
            "training_energy": (("model", "seed", "stage", "phase", "profile", "term"), training.copy()),
            "training_samples": (("model", "seed", "phase"), np.full((2, 3, 1), 1000)),
        },
        coords={"model": ["bio", "twin"], "seed": [0, 1, 2], "profile": profiles, "term": list(TERMS)},
    )


def test_summary_cells_name_the_member_with_less_energy_only_when_the_interval_excludes_one():
    cells = energy_summary(_energy(1.0, 2.0, 0.01), xr.Dataset(), "bio", "twin")
    assert [c.column for c in cells] == [
        "energy per inference (compute-only, horowitz45_fp32), bio / twin",
        "energy per inference (memory-aware, horowitz45_fp32), bio / twin",
        "energy to train (compute-only, horowitz45_fp32), bio / twin",
        "energy to train (memory-aware, horowitz45_fp32), bio / twin",
    ]
    first = cells[0]
    assert first.difference.startswith("x0.5 [") and first.better == "bio"
    assert (
        first.bio.startswith("1 [") and first.bio.endswith("µJ") and first.what.startswith("energy-efficient")
    )
    assert cells[2].twin.endswith("mJ") and cells[2].better == "bio"
    # Equal energies: the interval contains 1 (here it is exactly 1): no winner.
    assert all(c.better is None for c in energy_summary(_energy(2.0, 2.0, 0.0), xr.Dataset(), "bio", "twin"))
    # A member the dataset does not hold: no cells.
    assert energy_summary(_energy(1.0, 2.0, 0.01), xr.Dataset(), "bio", "other") == []


def test_energies_within_half_a_percent_are_equal_not_a_win():
    """0.1 % apart on every seed (the perceptron and softmax regression on Fashion-MNIST: the same
    linear map, 0.0181 uJ each): the interval [0.999, 0.999] excludes 1 but lies inside 1 +- 0.5 %,
    so the cell says equal and names no member; 2 % apart is a win."""
    (equal, *_) = energy_summary(_energy(1.0, 1.001, 0.0), xr.Dataset(), "bio", "twin")
    assert equal.better is None and equal.what == ""
    assert equal.difference == "x0.999 [0.999, 0.999]: equal within 0.5%"
    (win, *_) = energy_summary(_energy(1.0, 1.02, 0.0), xr.Dataset(), "bio", "twin")
    assert win.better == "bio" and win.difference.startswith("x0.98")
