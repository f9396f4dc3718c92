"""Which assumptions of an energy estimate decide a comparison: the same exact counts priced under
each assumption of :data:`ASSUMPTIONS`, and per pair, the bio / twin ratio under each and whether
the less-energy member differs from the reference's.

The assumptions varied (one at a time from the reference, :data:`REFERENCE`):

* memory model: compute-only; memory-aware with no reuse (every weight, input and state access
  priced, Lemaire's fit at the memory's size, or a flat 5 pJ SRAM access); reuse of a fetched
  weight (across a batch or positions) is not modelled, so the memory-aware rows are upper
  bounds for both members;
* precision: fp32, int8 (an 8-bit access priced at its own point of the fit), word-packed int8
  (8 values per 64-bit word, read together);
* neuron price: a conductance neuron priced from its counted operations or as one LIF update (1
  MAC + 1 AC, with one state read and write); exp and division at 4x their assumed price;
  Loihi's silent neuron-steps at its inactive price or at the active one;
* profile: the neuromorphic profiles that price both members (none prices a real-valued MAC, so
  a twin with MACs is unpriced there: the row says n/a).

Ratios are geometric means over seeds of bio / twin (:func:`~neurosim.analysis.statistics.ratio_interval`).
The section (:func:`sensitivity_table`) reads stored results only; :func:`price_assumptions` runs
inside the energy analysis's computation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import xarray as xr

from neurosim.analysis.statistics import RATIO_TIE, ratio_interval
from neurosim.analysis.study import Table
from neurosim.energy.pricing import NeuronPricing, price
from neurosim.energy.profiles import hardware_profile


class Assumption(NamedTuple):
    """One way of pricing: a profile, whether memory is added, and how neurons are priced."""

    name: str
    profile: str
    memory_aware: bool
    pricing: NeuronPricing = NeuronPricing()


REFERENCE = Assumption(
    "reference: fp32 compute-only (horowitz45_fp32_compute)", "horowitz45_fp32_compute", False
)
AS_LIF = NeuronPricing(counted=False)
ASSUMPTIONS = (
    REFERENCE,
    Assumption("memory-aware, no reuse, Lemaire fit (fp32)", "horowitz45_fp32_memory", True),
    Assumption("memory-aware, no reuse, 5 pJ SRAM per access (fp32)", "han2015_fp32_sram", True),
    Assumption("int8 compute-only", "horowitz45_int8_compute", False),
    Assumption("int8 memory-aware, 8-bit accesses", "horowitz45_int8_memory", True),
    Assumption("int8 memory-aware, word-packed (8 per 64-bit word)", "horowitz45_int8_memory_packed", True),
    Assumption(
        "conductance neuron as a LIF update (fp32 compute-only)", "horowitz45_fp32_compute", False, AS_LIF
    ),
    Assumption(
        "conductance neuron as a LIF update (fp32 memory-aware)", "horowitz45_fp32_memory", True, AS_LIF
    ),
    Assumption(
        "exp and division at 4x their price (fp32 compute-only)",
        "horowitz45_fp32_compute",
        False,
        NeuronPricing(exp_division_scale=4.0),
    ),
    Assumption("Loihi, silent neuron-steps at the inactive price (52 pJ)", "loihi_2018", False),
    Assumption(
        "Loihi, every neuron-step at the active price (81 pJ)",
        "loihi_2018",
        False,
        NeuronPricing(inactive=False),
    ),
    Assumption("TrueNorth (all-in)", "truenorth_2014", False),
    Assumption("SpiNNaker 2 prototype", "spinnaker2_2019", False),
)


def price_assumptions(
    per_layer: dict[str, dict[str, float]], kinds: dict[str, str], assumptions=ASSUMPTIONS
) -> np.ndarray:
    """pJ of one ledger under each assumption ``[assumption]`` (compute, plus memory where the
    assumption is memory-aware; NaN where a term is unpriced)."""
    totals = []
    for assumption in assumptions:
        estimate = price(per_layer, kinds, hardware_profile(assumption.profile), assumption.pricing)
        totals.append(estimate.compute + (estimate.memory if assumption.memory_aware else 0.0))
    return np.array(totals)


def _ratio(bio: np.ndarray, twin: np.ndarray) -> tuple[float, str]:
    """``(geometric-mean ratio bio / twin, the member with less energy)``; NaN and ``"n/a"`` where
    either member is unpriced."""
    if np.isnan(bio).any() or np.isnan(twin).any():
        return math.nan, "n/a"
    ratio = ratio_interval(bio, twin).mean
    return ratio, "tie" if abs(ratio - 1) < RATIO_TIE else ("bio" if ratio < 1 else "twin")


def _flip(winner: str, reference: str | None) -> str:
    """Whether ``winner`` differs from the reference's (``None``: this is the reference row)."""
    if reference is None:
        return "(reference)"
    if {winner, reference} & {"n/a", "tie"}:
        return ""
    return "flips" if winner != reference else "no"


def _cells(values: xr.DataArray, bio: str, twin: str, reference: str | None) -> tuple[list[str], str]:
    """One assumption's ratio, winner and flip cells from ``[model, seed]`` values."""
    ratio, winner = _ratio(values.sel(model=bio).values, values.sel(model=twin).values)
    if winner == "n/a":
        return ["n/a (unpriced)", "n/a", _flip(winner, reference)], winner
    name = {"bio": bio, "twin": twin}.get(winner, winner)
    return [f"{ratio:.3g}", name, _flip(winner, reference)], winner


def sensitivity_table(energy: xr.Dataset, bio: str, twin: str) -> Table:
    """Per assumption: the bio / twin ratio per inference and to train, the member with less
    energy, and whether it differs from the reference assumption's (``flips``)."""
    rows = []
    references: dict[str, str | None] = {}
    for name in [str(a) for a in energy.assumption.values]:
        row = [name]
        for variable in ("sensitivity", "training_sensitivity"):
            cells, winner = _cells(energy[variable].sel(assumption=name), bio, twin, references.get(variable))
            references.setdefault(variable, winner)
            row += cells
        rows.append(row)
    header = [
        "assumption",
        "per inference: bio / twin",
        "less energy",
        "winner flips?",
        "to train: bio / twin",
        "less energy",
        "winner flips?",
    ]
    return Table(header, rows)


def operating_point(energy: xr.Dataset) -> str:
    """The estimates' operating point, as one paragraph."""
    return (
        f"Operating point: counts per image on {energy.attrs.get('stimuli', 'the test images')}, "
        "run in batches of 250 (no reuse is modelled, so the counts per image do not depend on the "
        "batch); both members on the same zero-skipping hardware; each profile's precision (fp32, "
        "int8, or int8 packed 8 per 64-bit word) for arithmetic and every stored value. "
        "Memory-aware profiles assume no reuse: every weight a synaptic event or MAC uses is "
        "fetched from its layer's memory, and every state access goes to memory (Lemaire et al. "
        "2022), an upper bound for both members. Neuron updates: a conductance neuron (Diehl & "
        "Cook) from its counted operations where the profile prices them (12 adds, 7 multiplies, "
        "5 compares and 9 state accesses per neuron-step under forward Euler), else as one update; "
        "Loihi prices silent neuron-steps (no synaptic event, no spike) at its inactive 52 pJ "
        "(for Diehl & Cook an upper bound on the active ones). Diehl & Cook's inference includes "
        "its 150 ms rests and re-presentations (split below). Summary-table reference: "
        "horowitz45_fp32_compute and horowitz45_fp32_memory (the only profiles that price every member)."
    )
