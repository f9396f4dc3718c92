"""A simulated protocol's ledger split into its windows, to price each apart: Diehl & Cook's
350 ms presentation, its 150 ms rest, and the re-presentations of images that evoked too few
spikes (input and rest).

For a layer row with ``presentations`` per image ``P`` (1 + re-presentations), ``U`` neuron-steps,
``U_r`` of them in the rests after first presentations and ``U_q`` in re-presentations, each
count goes to the windows by one of two shares:

* by neuron-steps, ``(U - U_r - U_q, U_r, U_q) / U``: neuron updates, their counted arithmetic
  and state accesses (exact: every presentation runs the same steps);
* by input steps, ``(1, 0, P - 1) / P``: everything driven by spikes (input and recurrent synaptic
  events, weight and input reads, spikes, dense work, active neuron-steps). The rest has no input,
  so input-driven work is exactly in the input windows; the simulation does not record which
  presentation a spike came in, so a re-presentation is given the average input window's share
  (exact when no image is re-presented), and the few spikes in a rest (residual conductance in
  its first milliseconds) are given to the presentation before it.

A state read or write is one per synaptic event plus the neuron updates' accesses: its two parts
are split by their own shares. Layers without a protocol (a readout) belong to the presentation.
"""

from __future__ import annotations

from neurosim.metrics.neuron_operations import OP_COUNTS

#: The windows of a presentation, in order.
WINDOWS = ("presentation", "rest", "re-presentations")
#: Counts split by neuron-steps (the rest by input steps).
STEP_COUNTS = (
    "neuron_updates",
    "conductance_updates",
    *OP_COUNTS,
    "rest_neuron_updates",
    "repeat_neuron_updates",
)
#: Per-sample sizes, copied to every window.
SIZES = ("weight_elements", "input_elements", "state_elements")


def _shares(row: dict[str, float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(by neuron-steps, by input steps)``, each one share per window."""
    updates = row.get("neuron_updates", 0.0)
    rest, repeat = row.get("rest_neuron_updates", 0.0), row.get("repeat_neuron_updates", 0.0)
    steps = ((updates - rest - repeat) / updates, rest / updates, repeat / updates)
    presentations = row["presentations"]
    inputs = (1.0 / presentations, 0.0, (presentations - 1.0) / presentations)
    return steps, inputs


def split_row(row: dict[str, float]) -> dict[str, dict[str, float]]:
    """One layer's per-sample row as a row per window (:data:`WINDOWS`) that add up to it; a row
    without a protocol (no ``presentations``) goes wholly to the presentation."""
    if not row.get("presentations") or not row.get("neuron_updates"):
        empty = {key: (row[key] if key in SIZES else 0.0) for key in row}
        return {window: dict(row) if window == WINDOWS[0] else dict(empty) for window in WINDOWS}
    steps, inputs = _shares(row)
    windows: dict[str, dict[str, float]] = {window: {} for window in WINDOWS}
    for key, value in row.items():
        for w, window in enumerate(WINDOWS):
            if key in SIZES or key == "activation_sparsity":
                windows[window][key] = value
            elif key in STEP_COUNTS:
                windows[window][key] = value * steps[w]
            elif key in ("state_reads", "state_writes"):
                synaptic = row.get("effective_acs", 0.0)
                windows[window][key] = synaptic * inputs[w] + (value - synaptic) * steps[w]
            else:
                windows[window][key] = value * inputs[w]
    return windows


def split_ledger(per_layer: dict[str, dict[str, float]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{window: per-layer ledger}``: every layer's row split by :func:`split_row`."""
    split = {layer: split_row(row) for layer, row in per_layer.items()}
    return {window: {layer: rows[window] for layer, rows in split.items()} for window in WINDOWS}


def has_protocol(per_layer: dict[str, dict[str, float]]) -> bool:
    """Whether any layer of the ledger simulated a protocol (counted its presentations)."""
    return any(row.get("presentations") for row in per_layer.values())
