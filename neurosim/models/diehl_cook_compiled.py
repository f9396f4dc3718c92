"""Diehl & Cook's presentation through the compiled kernels: on a CPU
:mod:`~neurosim.models.diehl_cook_kernel` (numba), on a CUDA device
:mod:`~neurosim.models.diehl_cook_cuda`. They perform the torch simulation's steps
(:mod:`~neurosim.models.diehl_cook_torch`) in the same order and precision, on copies of the
state made here, so a presentation leaves the state and weights it is given as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple, cast

import torch

from neurosim.models.diehl_cook_params import DiehlCookParams
from neurosim.models.diehl_cook_torch import Schedule, SlotState
from neurosim.neurons.conductance_lif import (
    ConductanceLIFParams,
    ConductanceState,
    euler_constants,
    threshold_factor,
)
from neurosim.neurons.conductance_population import PopulationState
from neurosim.rules.stdp_traces import Traces


class CompiledPresented(NamedTuple):
    """What one compiled presentation of every slot gives."""

    counts: torch.Tensor
    """Excitatory spikes during the input ``[S, N]``, in the weights' dtype."""
    weight: torch.Tensor
    """Each slot's weights after it ``[S, D, N]`` (learning), or the shared ``[1, D, N]``."""
    fired: torch.Tensor
    """Every spike ``[S, 2N]`` (int64)."""
    state: SlotState


@functools.cache
def _cuda_kernel_available(n_neurons: int) -> bool:
    """Whether the CUDA kernel can run a layer of ``n_neurons`` (numba's CUDA target answers)."""
    try:
        from neurosim.models import diehl_cook_cuda
    except Exception:  # numba without a working CUDA target: the torch simulation runs instead
        return False
    return diehl_cook_cuda.available() and n_neurons <= diehl_cook_cuda.MAX_NEURONS


@functools.cache
def numba_available() -> bool:
    """Whether numba imports (it is a dependency; a platform without it falls back to torch)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def available(device: torch.device, n_neurons: int, float32: bool) -> bool:
    """Whether a compiled kernel runs a layer of ``n_neurons`` on ``device``: on the CPU whenever
    numba imports; on a CUDA device for float32 layers of at most the kernel's ``MAX_NEURONS``."""
    if device.type == "cpu":
        return numba_available()
    return device.type == "cuda" and float32 and _cuda_kernel_available(n_neurons)


def kernel_tables(
    population: ConductanceLIFParams,
    params: DiehlCookParams,
    neuron_dtype: torch.dtype,
    trace_dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernels' constant tables as tensors on ``device``: the population's in the neurons'
    dtype, the scalars in the traces' (the weights')."""
    from neurosim.models import diehl_cook_kernel as kernel

    constants = euler_constants(population, params.dt, params.integration)
    theta_decay = threshold_factor(params.tau_theta, params.dt, params.integration)
    as_numpy = {dtype: torch.zeros((), dtype=dtype).numpy().dtype for dtype in (neuron_dtype, trace_dtype)}
    population_table = kernel.population_table(population, constants, as_numpy[neuron_dtype])
    scalar_table = kernel.scalar_table(params, theta_decay, as_numpy[trace_dtype])
    return torch.from_numpy(population_table).to(device), torch.from_numpy(scalar_table).to(device)


def present_compiled(
    state: SlotState,
    weight: torch.Tensor,
    events: tuple[torch.Tensor, torch.Tensor],
    tables: tuple[torch.Tensor, torch.Tensor],
    learning: bool,
    method: str,
    schedule: Schedule,
) -> CompiledPresented:
    """One presentation (input, then rest) of every slot, ``events = (step, slot * D + input)``,
    by the kernel of ``weight``'s device; ``tables``: :func:`kernel_tables` for the state's
    dtypes. With ``learning``, each slot learns online on its own copy of the weights."""
    from neurosim.models import diehl_cook_kernel as kernel

    (d, n), device = weight.shape, weight.device
    n_slots = state.population.theta.shape[0]
    step_of, index_of = events
    slot_of = index_of // d
    # Stable: within a step the inputs keep their order, so the drive sums alike on every device.
    order = torch.argsort(slot_of * schedule.presentation_steps + step_of, stable=True)
    offsets = torch.zeros(n_slots + 1, dtype=torch.int64, device=device)
    offsets[1:] = torch.bincount(slot_of, minlength=n_slots).cumsum(0)
    slot_weight = weight.expand(n_slots, d, n).clone() if learning else weight.unsqueeze(0).contiguous()
    neurons = ConductanceState(*map(_contiguous_copy, state.population.neurons))
    theta, traces = _contiguous_copy(state.population.theta), Traces(*map(_contiguous_copy, state.traces))
    counts = torch.zeros(n_slots, n, dtype=weight.dtype, device=device)
    fired = torch.zeros(n_slots, 2 * n, dtype=torch.int64, device=device)
    arrays = (
        slot_weight,
        *neurons,
        theta,
        *traces,
        offsets,
        step_of[order],
        index_of[order] % d,
        counts,
        fired,
        *tables,
    )
    constants = (kernel.METHOD_CODES[method], learning, schedule.presentation_steps, schedule.total_steps)
    if device.type == "cuda":
        from neurosim.models import diehl_cook_cuda

        diehl_cook_cuda.present_tensors(arrays, constants)
    else:
        threads = torch.get_num_threads()  # the share neurosim.threads gave this process
        kernel.use_threads(threads)
        present_slots = cast(Callable[..., None], kernel.present_slots)  # a numba dispatcher
        present_slots(*(array.numpy() for array in arrays), *constants)
        # numba's OpenMP threading layer starts its pool with every core and so resets the
        # OpenMP thread count that torch shares with it: torch keeps its own.
        torch.set_num_threads(threads)
    new_state = SlotState(PopulationState(neurons, theta), traces)
    return CompiledPresented(counts, slot_weight, fired, new_state)


def _contiguous_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous copy of ``tensor``, for the kernel to change in place."""
    return tensor.clone(memory_format=torch.contiguous_format)
