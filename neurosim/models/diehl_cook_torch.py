"""Diehl & Cook's presentation as tensor operations (the torch simulation): a loop over time steps
of the pure step functions, every slot at once.

One step (``S`` slots, ``D`` inputs, ``N`` excitatory and ``N`` inhibitory neurons)::

    drive     = input synapses: the weights' rows of this step's input spikes, summed per slot
    spikes    = population_step(drive, ...)        neurons/conductance_population.py
    seen, new = trace_step(input spikes, excitatory spikes, ...)   rules/stdp_traces.py
    STDP      = depressed(rows of the input spikes, seen.post1),        rules/stdp.py
                potentiated(columns of the neurons that fired, seen.pre, seen.post2)

How the weights act during the presentation (``mode``):

- ``online``: each slot has its own copy of the weights ``[S, D, N]``; the drive reads and STDP
  changes them at every step (only the rows of the inputs that fired and the columns of the
  neurons that fired, through flat indices: ``index_select`` and ``take`` are the fast gathers on
  a CPU; advanced indexing of the 3-d tensor was ~3x slower per call). One slot is the paper's
  sequential algorithm.
- ``deferred``: the weights are fixed during the presentation, so a chunk of ``chunk_steps`` steps'
  drive is one sparse product (input spikes are ~1 % of the step x input entries); each slot's
  STDP changes are summed over the chunk, unclipped, and returned.
- ``frozen``: no plasticity (evaluation); the drive as in ``deferred``.

Every tensor the simulation changes in place is its own (slot weights, accumulators); the state
and weights it is given are left as they were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch

from neurosim.models.diehl_cook_params import DiehlCookParams
from neurosim.neurons.conductance_lif import ConductanceLIFParams, initial_state
from neurosim.neurons.conductance_population import PopulationParams, PopulationState, population_step
from neurosim.rules.stdp import depressed, potentiated
from neurosim.rules.stdp_traces import TraceParams, Traces, initial_traces, trace_step

MODES = ("online", "deferred", "frozen")


class SlotState(NamedTuple):
    """The state of ``S`` slots: neurons and thresholds, and STDP traces."""

    population: PopulationState
    traces: Traces


@dataclass(frozen=True)
class Plasticity:
    """STDP's constants (:mod:`~neurosim.rules.stdp`): trace decays, rates and the weight bound."""

    traces: TraceParams
    nu_pre: float
    nu_post: float
    w_max: float

    @classmethod
    def of(cls, params: DiehlCookParams) -> Plasticity:
        """The network's STDP constants."""
        p = params
        return cls(
            TraceParams.from_time_constants(p.dt, p.tau_pre, p.tau_post1, p.tau_post2),
            p.nu_pre,
            p.nu_post,
            p.w_max,
        )


@dataclass(frozen=True)
class Schedule:
    """Steps of input, then of rest, and the steps simulated per chunk of input spikes."""

    presentation_steps: int
    rest_steps: int
    chunk_steps: int

    @property
    def total_steps(self) -> int:
        return self.presentation_steps + self.rest_steps


class Presented(NamedTuple):
    """What one presentation of every slot gives."""

    counts: torch.Tensor
    """Excitatory spikes during the input ``[S, N]``, in the input's dtype."""
    weight: torch.Tensor
    """``online``: every slot's weights after it ``[S, D, N]``; ``deferred``: the slots' summed,
    unclipped change ``[D, N]``; ``frozen``: the weights given."""
    fired: torch.Tensor
    """Every spike, input and rest ``[S, 2N]``."""
    state: SlotState


def slots_at_rest(
    population: ConductanceLIFParams, theta: torch.Tensor, n_slots: int, n_inputs: int
) -> SlotState:
    """``n_slots`` slots at rest, with the excitatory thresholds ``theta [N]`` and no traces."""
    n = len(theta)
    all_theta = theta.new_zeros(n_slots, 2 * n)
    all_theta[:, :n] = theta
    neurons = initial_state(population, (n_slots, 2 * n), device=theta.device)
    return SlotState(PopulationState(neurons, all_theta), initial_traces(n_slots, n_inputs, n, theta))


def keep_slots(state: SlotState, index: torch.Tensor) -> SlotState:
    """Only the slots ``index`` of ``state``."""
    neurons, theta = state.population
    kept = PopulationState(type(neurons)(*(tensor[index] for tensor in neurons)), theta[index])
    return SlotState(kept, Traces(*(trace[index] for trace in state.traces)))


class _InputSpikes(NamedTuple):
    """A presentation's input spikes in time order, as ``(step * S + slot, input)`` events."""

    step_slot: torch.Tensor
    source: torch.Tensor
    chunk_bounds: list[int]
    """Events ``chunk_bounds[c]:chunk_bounds[c + 1]`` are chunk ``c``'s."""
    n_slots: int


class _Chunk(NamedTuple):
    """The input spikes of one chunk of steps, in the forms the simulation's mode reads."""

    n_input: int
    """Steps of the chunk with input (the others are rest)."""
    dense: torch.Tensor | None = None
    """0/1 ``[chunk_steps, S, D]`` (learning only)."""
    slot: torch.Tensor | None = None
    """``online``: each event's slot, in time order."""
    row: torch.Tensor | None = None
    """``online``: each event's row of the slot weights viewed as ``[S * D, N]``."""
    step_bounds: list[int] | None = None
    """``online``: events ``step_bounds[k]:step_bounds[k + 1]`` are step ``k``'s."""
    drive: torch.Tensor | None = None
    """``deferred``, ``frozen``: each input step's drive ``[n_input, S, N]``."""
    by_source: torch.Tensor | None = None
    """``deferred``: the chunk's input spikes as a sparse ``[D, n_input * S]`` matrix."""


class _StepEvents(NamedTuple):
    """``online``: one step's input spikes and the weight rows they read."""

    slot: torch.Tensor
    row: torch.Tensor
    selected: torch.Tensor
    """The rows ``[E, N]`` of the slots' weights, before this step's STDP."""


def simulate(
    state: SlotState,
    weight: torch.Tensor,
    events: tuple[torch.Tensor, torch.Tensor],
    population: PopulationParams,
    plasticity: Plasticity,
    mode: str,
    schedule: Schedule,
    input_dtype: torch.dtype,
) -> Presented:
    """One presentation (input, then rest) of every slot from ``state``, with the input spikes
    ``events = (step, slot * D + input)``; ``population.adaptive`` must be ``mode != "frozen"``.
    Counts and the dense input spikes take ``input_dtype`` (the rates')."""
    if mode not in MODES or population.adaptive != (mode != "frozen"):
        raise ValueError(f"mode {mode!r} (one of {MODES}) with adaptive thresholds {population.adaptive}")
    n_slots, (d, n) = state.population.theta.shape[0], weight.shape
    inputs = _sorted_events(events, n_slots, d, schedule)
    learning = mode != "frozen"
    slot_weight = weight.expand(n_slots, d, n).clone() if mode == "online" else weight
    deferred = (
        _DeferredChange(weight, n_slots, schedule.chunk_steps, input_dtype) if mode == "deferred" else None
    )
    buffer = weight.new_empty(schedule.chunk_steps, n_slots, d, dtype=input_dtype) if learning else None
    counts = weight.new_zeros(n_slots, n, dtype=input_dtype)
    fired = weight.new_zeros(n_slots, 2 * n, dtype=input_dtype)
    columns = torch.arange(d, device=weight.device) * n  # flat offsets of a column's entries
    for index, start in enumerate(range(0, schedule.total_steps, schedule.chunk_steps)):
        length = min(schedule.chunk_steps, schedule.total_steps - start)
        chunk = _chunk(inputs, index, start, length, slot_weight, mode, schedule, buffer)
        for k in range(length):
            dense = chunk.dense[k] if chunk.dense is not None and k < chunk.n_input else None
            step_events = _step_events(chunk, k, slot_weight)
            drive = _drive(chunk, k, step_events, state.population)
            spikes, population_state = population_step(drive, state.population, population)
            spike_e, traces = spikes[:, :n], state.traces
            if learning:
                seen, traces = trace_step(dense, spike_e, state.traces, plasticity.traces)
                if deferred is not None:
                    deferred.record(k, dense is not None, seen, spike_e)
                else:
                    _online_stdp(step_events, spike_e, seen, slot_weight, columns, plasticity)
            state = SlotState(population_state, traces)
            fired += spikes
            if start + k < schedule.presentation_steps:
                counts += spike_e
        if deferred is not None:
            deferred.add_chunk(chunk, length, plasticity)
    result = slot_weight if deferred is None else deferred.change
    return Presented(counts, result, fired, state)


def _sorted_events(
    events: tuple[torch.Tensor, torch.Tensor], n_slots: int, d: int, schedule: Schedule
) -> _InputSpikes:
    """The events in time order, and where each chunk's begin."""
    step_of, index_of = events
    step_slot, source = step_of * n_slots + index_of // d, index_of % d
    order = torch.argsort(step_slot)  # time order, so a chunk's spikes are one slice
    step_slot, source = step_slot[order], source[order]
    starts = torch.arange(
        0, schedule.presentation_steps + schedule.chunk_steps, schedule.chunk_steps, device=step_slot.device
    )
    bounds = torch.searchsorted(step_slot, starts * n_slots).tolist()
    return _InputSpikes(step_slot, source, bounds, n_slots)


def _chunk(
    inputs: _InputSpikes,
    index: int,
    start: int,
    length: int,
    weight: torch.Tensor,
    mode: str,
    schedule: Schedule,
    buffer: torch.Tensor | None,
) -> _Chunk:
    """The input spikes of chunk ``index`` (steps ``start .. start + length - 1``) in the forms
    ``mode`` reads (``weight``: the slots' in ``online``, else the fixed ones); ``buffer``, when
    given, receives them dense."""
    n_input = max(0, min(length, schedule.presentation_steps - start))
    if not n_input:
        return _Chunk(0)
    n_slots, (d, n) = inputs.n_slots, weight.shape[-2:]
    first, last = inputs.chunk_bounds[index], inputs.chunk_bounds[index + 1]
    rows, source = inputs.step_slot[first:last] - start * n_slots, inputs.source[first:last]
    if buffer is not None:
        buffer.zero_().view(-1, d)[rows, source] = 1.0
    if mode == "online":
        # Each step's input spikes as (slot, input) events: they select rows of their slot's
        # weights (an event-driven product).
        slot = rows % n_slots
        step_bounds = torch.searchsorted(rows, torch.arange(n_input + 1, device=rows.device) * n_slots)
        return _Chunk(n_input, buffer, slot, slot * d + source, step_bounds.tolist())
    # Weights fixed within the chunk: its drive at once, as a sparse product.
    spikes_by_step = _ones_at(rows, source, (n_input * n_slots, d), weight.dtype)
    drive = (spikes_by_step @ weight).view(n_input, n_slots, n)
    by_source = _ones_at(source, rows, (d, n_input * n_slots), weight.dtype) if mode == "deferred" else None
    return _Chunk(n_input, buffer, drive=drive, by_source=by_source)


def _step_events(chunk: _Chunk, k: int, slot_weight: torch.Tensor) -> _StepEvents | None:
    """``online``: step ``k``'s input spikes and the weight rows they read (``None`` elsewhere)."""
    if chunk.step_bounds is None or chunk.slot is None or chunk.row is None or k >= chunk.n_input:
        return None
    first, last = chunk.step_bounds[k], chunk.step_bounds[k + 1]
    row = chunk.row[first:last]
    selected = slot_weight.view(-1, slot_weight.shape[-1]).index_select(0, row)
    return _StepEvents(chunk.slot[first:last], row, selected)


def _drive(
    chunk: _Chunk, k: int, step_events: _StepEvents | None, population: PopulationState
) -> torch.Tensor | None:
    """The input synapses' delivery at step ``k``: each slot's sum of the weight rows of its input
    spikes ``[S, N]`` (``None`` during rest)."""
    if step_events is not None:
        g_exc = population.neurons.g_exc
        zeros = g_exc.new_zeros(g_exc.shape[0], step_events.selected.shape[1])
        return zeros.index_add_(0, step_events.slot, step_events.selected.to(g_exc.dtype))
    if chunk.drive is not None and k < chunk.n_input:
        return chunk.drive[k]
    return None


def _online_stdp(
    step_events: _StepEvents | None,
    spike_e: torch.Tensor,
    seen: Traces,
    slot_weight: torch.Tensor,
    columns: torch.Tensor,
    plasticity: Plasticity,
) -> None:
    """One step's STDP on the slot weights ``[S, D, N]``, in place: the rows of the inputs that
    fired are depressed, then the columns of the excitatory neurons that fired potentiated (each
    clipped to ``[0, w_max]``)."""
    n, d = spike_e.shape[1], seen.pre.shape[1]
    if step_events is not None:
        post1 = seen.post1.index_select(0, step_events.slot)
        # As a change added in place: index_add_ is ~3x faster than index_copy_.
        selected = step_events.selected
        change = depressed(selected, post1, plasticity.nu_pre, plasticity.w_max).sub_(selected)
        slot_weight.view(-1, n).index_add_(0, step_events.row, change)
    post_slot, post = spike_e.nonzero(as_tuple=True)
    if len(post):
        column = (post_slot * (d * n) + post).unsqueeze(1) + columns  # flat positions [P, D]
        changed = potentiated(
            slot_weight.take(column),
            seen.pre.index_select(0, post_slot),
            seen.post2[post_slot, post],
            plasticity.nu_post,
            plasticity.w_max,
        )
        slot_weight.put_(column, changed)


class _DeferredChange:
    """``deferred``: the slots' STDP changes, summed over each chunk from the traces each step
    saw (depression over the presynaptic spikes, potentiation over the postsynaptic ones, both
    unclipped, :func:`~neurosim.rules.stdp.depressed`, :func:`~neurosim.rules.stdp.potentiated`)."""

    def __init__(self, weight: torch.Tensor, n_slots: int, chunk_steps: int, dtype: torch.dtype) -> None:
        (d, n), like = weight.shape, weight.new_empty(0, dtype=dtype)
        self.change = torch.zeros_like(weight)
        self.post1 = like.new_empty(chunk_steps, n_slots, n)  # x_post1 at the input steps
        self.potentiating = like.new_empty(chunk_steps, n_slots, n)  # s_post * x_post2 (before the spike)
        self.pre = like.new_empty(chunk_steps, n_slots, d)

    def record(self, k: int, has_input: bool, seen: Traces, spike_e: torch.Tensor) -> None:
        """Keep step ``k``'s traces."""
        if has_input:
            self.post1[k] = seen.post1
        torch.mul(spike_e, seen.post2, out=self.potentiating[k])
        self.pre[k] = seen.pre

    def add_chunk(self, chunk: _Chunk, length: int, plasticity: Plasticity) -> None:
        """Add the chunk's changes (``length`` steps) to :attr:`change`."""
        n, d = self.change.shape[1], self.change.shape[0]
        if chunk.by_source is not None:
            self.change.sub_(
                chunk.by_source @ self.post1[: chunk.n_input].view(-1, n), alpha=plasticity.nu_pre
            )
        potentiating = self.potentiating[:length].view(-1, n)
        step_slot, post = potentiating.nonzero(as_tuple=True)
        if len(step_slot):
            rows = self.pre[:length].view(-1, d)[step_slot]
            rows *= potentiating[step_slot, post, None]
            self.change.index_add_(1, post, rows.T, alpha=plasticity.nu_post)


def _ones_at(
    row: torch.Tensor, column: torch.Tensor, shape: tuple[int, int], dtype: torch.dtype
) -> torch.Tensor:
    """A sparse (CSR) ``shape`` matrix with ones at the distinct positions ``(row, column)``."""
    order = torch.argsort(row * shape[1] + column)
    row, column = row[order], column[order]
    row_starts = torch.zeros(shape[0] + 1, dtype=torch.int64, device=row.device)
    row_starts[1:] = torch.bincount(row, minlength=shape[0]).cumsum(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            row_starts,
            column,
            torch.ones(len(row), dtype=dtype, device=row.device),
            shape,
            check_invariants=False,
        )
