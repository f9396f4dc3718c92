"""Diehl & Cook's presentation as one CUDA kernel: each slot a thread block, every step inside it.

On a GPU the torch simulation (:func:`~neurosim.models.diehl_cook_torch.simulate`)
launches a few dozen small kernels per 0.5 ms step and waits for the host at every step, so a
1,000-step image costs about as much as on a CPU, whatever the number of slots. This kernel runs a
whole presentation (input, then rest) in one launch: block ``s`` simulates slot ``s`` step by
step, its threads sharing out the neurons and inputs, with a barrier between the phases of a step.
It is the CPU kernel's step (:mod:`~neurosim.models.diehl_cook_kernel`, whose docstring writes it
out), in the same order and in float32, so that on numba's CUDA simulator the two agree bit for
bit (``tests/test_diehl_cook_cuda.py``). On a GPU the compiler may fuse a multiply and an add into
one rounding (FMA), so results agree to float32 rounding, not to the bit.

One step of slot ``s`` (``N`` excitatory then ``N`` inhibitory neurons, ``D`` inputs)::

    phase 1, neuron j:  integrate; theta decays (learning); spike = v - threshold - theta > 0 and
                        not refractory; count the inhibitory spikes, list the excitatory ones
    --- barrier ---
    phase 2, column j:  g_e[j] += sum of W[i, j] over the inputs i that spike now;
                        g_e[N + j] += w_ei s_e[j];  g_i[j] += w_ie (sum_k s_i[k] - s_i[j]);
                        learning: x_post1, x_post2 decay; W[i, j] depressed for those inputs
            input i:    learning: x_pre[i] decays, set to 1 where input i spikes
    --- barrier ---
    learning, input i:  W[i, j] potentiated for every excitatory j that spiked
    --- barrier ---
    phase 3, neuron j:  learning: x_post1, x_post2 = 1 and theta += theta_plus where spiked;
                        reset where spiked; counts
    --- barrier ---

Each column ``j`` of ``W`` is read (drive) and depressed by the same thread, so phase 2 needs no
barrier inside; potentiation writes columns across threads, so it has its own phase.

Shapes as in :mod:`~neurosim.models.diehl_cook_kernel`; every float array is float32 (the layer
falls back to the torch simulation for other dtypes). Shared memory: ``3N`` floats (spikes, then
the list of excitatory neurons that spiked), so ``N <= MAX_NEURONS``.
"""

from __future__ import annotations

import functools
import math
import warnings

from numba import cuda, float32, int32, types
from numba.core.errors import NumbaPerformanceWarning

from neurosim.models.diehl_cook_kernel import (
    DECAY_EXC,
    DECAY_INH,
    DECAY_POST1,
    DECAY_POST2,
    DECAY_PRE,
    DT_OVER_TAU,
    NU_POST,
    NU_PRE,
    REFRACTORY_STEPS,
    RESET,
    THETA_DECAY,
    THETA_PLUS,
    THRESHOLD,
    W_EXC_INH,
    W_INH_EXC,
    W_MAX,
    membrane_change,
)

#: Largest population the kernel takes: its ``3N`` float32 of shared memory within the 48 KiB a
#: block may have without opting in.
MAX_NEURONS = 4096


@functools.cache
def available() -> bool:
    """Whether the kernel runs here: a CUDA device answers numba and the kernel compiles for it
    (at first use, a few seconds). A toolchain that cannot compile it (numba-cuda 0.30 registers
    ``np.row_stack``, which numpy 2.5 removed) gives a warning, and the layer runs the torch
    simulation instead."""
    try:
        if not cuda.is_available():
            return False
        _present.compile(SIGNATURE)
    except Exception as error:  # a broken driver or toolkit: the torch simulation runs instead
        warnings.warn(
            f"the CUDA kernel of Diehl & Cook cannot run here ({type(error).__name__}: {error}); "
            "the torch simulation runs instead",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


# The builtins max and min of two floats do not compile for CUDA in numba 0.68 ("signature
# mismatch"); these are their semantics (the first argument on a tie), as in the CPU kernel.
@cuda.jit(device=True, inline=True)
def _max(a, b):
    return b if b > a else a


@cuda.jit(device=True, inline=True)
def _min(a, b):
    return b if b < a else a


_membrane_change = cuda.jit(device=True, inline=True)(membrane_change)


@cuda.jit(device=True, inline=True)
def _integrate(v, g_exc, g_inh, refractory_left, s, j, population, method):
    """One update of neuron ``j`` of slot ``s``, in place (the CPU kernel's ``_integrate``)."""
    one = float32(1.0)
    left = _max(refractory_left[s, j] - one, float32(0.0))
    refractory_left[s, j] = left
    free = one - _min(left, one)
    rest_factor = one - math.exp(-population[DT_OVER_TAU, j]) if method == 1 or method == 2 else one
    v[s, j] += _membrane_change(v[s, j], g_exc[s, j], g_inh[s, j], free, population, j, method, rest_factor)
    g_exc[s, j] *= population[DECAY_EXC, j]
    g_inh[s, j] *= population[DECAY_INH, j]


@cuda.jit(device=True, inline=True)
def _fire(v, theta, refractory_left, s, j, population, scalars, learning, spikes, tallies, n):
    """Phase 1 after integration: the threshold (decayed when learning) and the spike of neuron
    ``j``; an inhibitory spike is counted, an excitatory one listed after the spikes."""
    if learning:
        theta[s, j] *= scalars[THETA_DECAY]
    spike = float32(0.0)
    if v[s, j] - population[THRESHOLD, j] - theta[s, j] > float32(0.0) and refractory_left[s, j] <= 0:
        spike = float32(1.0)
    spikes[j] = spike
    if spike > 0:
        if j >= n:
            cuda.atomic.add(tallies, 0, 1)
        else:
            spikes[2 * n + cuda.atomic.add(tallies, 1, 1)] = float32(j)


@cuda.jit(device=True, inline=True)
def _drive_and_depress(w, g_exc, g_inh, post1, post2, s, j, sources, first, last, spikes, n,
                       inhibitory_total, scalars, learning):  # fmt: skip
    """Phase 2 for column ``j``: the input drive (summed, then added, as the CPU kernel), the
    lateral conductances, and (learning) the post traces' decay and the depression of the
    column's entries in the rows of the inputs that spiked."""
    drive = float32(0.0)
    for e in range(first, last):
        drive += w[sources[e], j]
    g_exc[s, j] += drive
    g_exc[s, n + j] += spikes[j] * scalars[W_EXC_INH]
    g_inh[s, j] += (inhibitory_total - spikes[n + j]) * scalars[W_INH_EXC]
    if learning:
        post1[s, j] *= scalars[DECAY_POST1]
        post2[s, j] *= scalars[DECAY_POST2]
        trace = post1[s, j]
        for e in range(first, last):
            old = w[sources[e], j]
            depressed = _min(_max(old - scalars[NU_PRE] * trace, float32(0.0)), scalars[W_MAX])
            w[sources[e], j] = old + (depressed - old)


@cuda.jit(device=True, inline=True)
def _after_spikes(v, theta, refractory_left, post1, post2, counts, fired, s, j, t, spikes, n,
                  population, scalars, learning, presentation_steps):  # fmt: skip
    """Phase 3 for neuron ``j``: traces and threshold where it spiked (learning), then reset."""
    spike = spikes[j]
    if learning and j < n:
        post1[s, j] = _max(post1[s, j], spike)
        post2[s, j] = _max(post2[s, j], spike)
        theta[s, j] += spike * scalars[THETA_PLUS]
    if spike > 0:
        v[s, j] = v[s, j] + (population[RESET, j] - v[s, j])
        refractory_left[s, j] += population[REFRACTORY_STEPS, j]
        fired[s, j] += 1
        if j < n and t < presentation_steps:
            counts[s, j] += float32(1.0)


@cuda.jit
def _present(weights, v, g_exc, g_inh, refractory_left, theta, pre, post1, post2, offsets, steps,
             sources, counts, fired, population, scalars, method, learning, presentation_steps,
             total_steps):  # fmt: skip
    """Every step of slot ``blockIdx.x`` (see the module docstring)."""
    s, tid, stride = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
    n, n_all, d = counts.shape[1], v.shape[1], pre.shape[1]
    w = weights[s] if weights.shape[0] > 1 else weights[0]
    spikes = cuda.shared.array(0, dtype=float32)  # [2N] spikes, then [N] excitatory neurons that spiked
    tallies = cuda.shared.array(2, dtype=int32)  # inhibitory spikes, excitatory spikes
    first, end = offsets[s], offsets[s + 1]
    if tid == 0:
        tallies[0], tallies[1] = 0, 0
    cuda.syncthreads()
    for t in range(total_steps):
        last = first
        while last < end and steps[last] == t:
            last += 1
        for j in range(tid, n_all, stride):
            _integrate(v, g_exc, g_inh, refractory_left, s, j, population, method)
            _fire(v, theta, refractory_left, s, j, population, scalars, learning, spikes, tallies, n)
        cuda.syncthreads()
        inhibitory_total, n_spiked = float32(tallies[0]), tallies[1]
        for j in range(tid, n, stride):
            _drive_and_depress(w, g_exc, g_inh, post1, post2, s, j, sources, first, last, spikes, n,
                               inhibitory_total, scalars, learning)  # fmt: skip
        if learning:
            for i in range(tid, d, stride):
                pre[s, i] *= scalars[DECAY_PRE]
            for e in range(first, last):
                if sources[e] % stride == tid:  # the thread that decayed it
                    pre[s, sources[e]] = _max(pre[s, sources[e]], float32(1.0))
        cuda.syncthreads()
        if learning and n_spiked > 0:  # the same for every thread: tallies are shared
            for i in range(tid, d, stride):
                for k in range(n_spiked):
                    j = int32(spikes[2 * n + k])
                    grown = w[i, j] + scalars[NU_POST] * pre[s, i] * post2[s, j]
                    w[i, j] = _min(_max(grown, float32(0.0)), scalars[W_MAX])
            cuda.syncthreads()
        for j in range(tid, n_all, stride):
            _after_spikes(v, theta, refractory_left, post1, post2, counts, fired, s, j, t, spikes, n,
                          population, scalars, learning, presentation_steps)  # fmt: skip
        if tid == 0:  # every thread read the tallies before the last barrier
            tallies[0], tallies[1] = 0, 0
        first = last
        cuda.syncthreads()


_MATRIX, _INDICES = types.float32[:, ::1], types.int64[::1]
#: The kernel's argument types for float32 layers (the layer's only dtype on CUDA).
SIGNATURE = (
    (types.float32[:, :, ::1],) + (_MATRIX,) * 8 + (_INDICES,) * 3
    + (_MATRIX, types.int64[:, ::1], _MATRIX, types.float32[::1])
    + (types.int64, types.boolean, types.int64, types.int64)
)  # fmt: skip


def threads_per_block(n_neurons: int, n_inputs: int) -> int:
    """One thread per neuron or input, whichever is more, in whole warps, at most 1024."""
    return min(1024, 32 * math.ceil(max(2 * n_neurons, n_inputs, 1) / 32))


def present_slots(weights, v, g_exc, g_inh, refractory_left, theta, pre, post1, post2, offsets, steps,
                  sources, counts, fired, population, scalars, method, learning, presentation_steps,
                  total_steps, stream=0):  # fmt: skip
    """Every slot's presentation, one block per slot, every array in place: device arrays (or
    anything numba takes, such as ``cuda.as_cuda_array`` of torch tensors; numpy arrays on the
    simulator), the arguments of :func:`~neurosim.models.diehl_cook_kernel.present_slots`."""
    n_slots, n = v.shape[0], counts.shape[1]
    if n > MAX_NEURONS:
        raise ValueError(f"the CUDA kernel takes at most {MAX_NEURONS} neurons, not {n}")
    launch = _present[n_slots, threads_per_block(n, pre.shape[1]), stream, 3 * n * 4]
    with warnings.catch_warnings():
        # A grid of a few blocks leaves most of the GPU idle, as it must: one block per slot.
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        launch(weights, v, g_exc, g_inh, refractory_left, theta, pre, post1, post2, offsets, steps,
               sources, counts, fired, population, scalars, method, learning, presentation_steps,
               total_steps)  # fmt: skip


def present_tensors(arrays: tuple, constants: tuple) -> None:
    """:func:`present_slots` on torch CUDA tensors (``arrays``: its array arguments in order,
    ``constants``: the method code, learning, presentation and total steps), launched on torch's
    current stream of their device, so it is ordered with the torch operations around it."""
    import torch

    device = arrays[0].device
    # No events: a one-element placeholder (offsets say the slots have none), as numba refuses
    # a zero-size view of a null pointer.
    arrays = tuple(array if array.numel() else array.new_zeros(1) for array in arrays)
    with cuda.gpus[device.index or 0]:
        handle = torch.cuda.current_stream(device).cuda_stream
        stream = cuda.external_stream(handle) if handle else cuda.default_stream()
        views = [cuda.as_cuda_array(array, sync=False) for array in arrays]
        present_slots(*views, *constants, stream=stream)
