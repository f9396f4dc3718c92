"""Diehl & Cook's presentation compiled for the CPU: every slot simulated step by step in one loop.

The torch simulation (:func:`~neurosim.models.diehl_cook_torch.simulate`)
advances all slots with a few dozen tensor operations per 0.5 ms step; with one slot (the paper's
sequential algorithm) each operation touches a few hundred numbers and the step costs its ~25
operations' dispatch, about 0.2-0.5 ms on a CPU, so a 1,000-step image takes 0.2-0.5 s. This
module runs the same step, in the same order and in float32, as one compiled loop (numba) over
the steps of every slot (slots in parallel): the cost is then the arithmetic, a few microseconds
per step. Numba, not hand-written C: it compiles this Python at first use, on any platform where
numba installs, and caches the machine code next to the module.

One step of one slot, as in the torch path (``N`` excitatory then ``N`` inhibitory neurons)::

    refractory_left <- max(refractory_left - 1, 0)
    v <- v + dv * free                    (integrate: euler bounded or not, exponential Euler or
                                           step-averaged)
    g_e, g_i <- g_e * decay_e, g_i * decay_i
    theta <- theta * decay_theta          (learning only)
    spike <- v - threshold - theta > 0 and free
    g_e[exc] += W[i, :] for each input i that spikes now; g_e[inh j] += w_ei s_e[j];
    g_i[exc j] += w_ie (sum_k s_i[k] - s_i[j])
    learning: traces decay; x_pre[i] = 1 for the inputs that spike; each such row of W is
              depressed by nu_pre x_post1; each column of an excitatory neuron that spiked is
              potentiated by nu_post x_pre x_post2 (before its spike); x_post1, x_post2 = 1 where
              spiked; theta += theta_plus where spiked; W clipped to [0, w_max] after each change
    reset: v <- v_reset, refractory_left <- R where spiked

Shapes: weights ``[S, D, N]`` (one copy per slot, learning) or ``[1, D, N]`` (shared, evaluation);
neuron state ``[S, 2N]``; input traces ``[S, D]``; output traces ``[S, N]``; input spikes as
events sorted by slot then step (``offsets [S + 1]``, ``steps [E]``, ``sources [E]``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Integration methods by code (numba specialises on values poorly; an int keeps one compilation).
METHOD_CODES = {"euler": 0, "exponential_euler": 1, "step_averaged": 2, "euler_unbounded": 3}

# Indices into the float32 vector ``scalars``.
W_EXC_INH, W_INH_EXC, THETA_DECAY, THETA_PLUS, DECAY_PRE, DECAY_POST1, DECAY_POST2 = range(7)
NU_PRE, NU_POST, W_MAX = 7, 8, 9
N_SCALARS = 10

# Indices into the float32 table ``population [11, 2N]`` (one row per per-neuron constant).
REST, RESET, THRESHOLD, DT_OVER_TAU, DECAY_EXC, DECAY_INH, MEAN_EXC, MEAN_INH = range(8)
REFRACTORY_STEPS, REVERSAL_EXC, REVERSAL_INH = 8, 9, 10
N_POPULATION_ROWS = 11


def membrane_change(vj, ge, gi, free, population, j, method, rest_factor):
    """The membrane change ``dv`` (mV) of neuron ``j`` over one step, from its potential ``vj`` and
    conductances ``ge``, ``gi`` at the start of the step; ``free`` is 0 while it is refractory,
    else 1; ``rest_factor``: ``1 - exp(-dt / tau)`` (:func:`rest_factors`, used by the exponential
    methods when it has no conductance). Plain Python, compiled for CUDA by
    :mod:`~neurosim.models.diehl_cook_cuda`; the CPU kernel's ``_integrate`` writes the same
    operations out (see there why)."""
    one = np.float32(1.0)
    if method == 0 or method == 3:
        dv = ge * (population[REVERSAL_EXC, j] - vj)
        dv += gi * (population[REVERSAL_INH, j] - vj)
        dv += population[REST, j] - vj
        dv *= free * population[DT_OVER_TAU, j]
        # Bounded Euler (method 0): a step that would carry v past v_inf ends at it.
        if method == 0 and (ge + gi + one) * population[DT_OVER_TAU, j] > one:
            target = ge * population[REVERSAL_EXC, j]
            target += gi * population[REVERSAL_INH, j]
            target += population[REST, j]
            target /= ge + gi + one
            dv = (target - vj) * free
        return dv
    if method == 2:
        ge, gi = ge * population[MEAN_EXC, j], gi * population[MEAN_INH, j]
    total = ge + gi + one
    target = ge * population[REVERSAL_EXC, j]
    target += gi * population[REVERSAL_INH, j]
    target += population[REST, j]
    target /= total
    # With no conductance left (total == 1 to the last bit, most steps of the inhibitory neurons
    # and of the rest), the factor is the neuron's constant: the same bits, no exp.
    if total == one:
        return (target - vj) * rest_factor * free
    return (target - vj) * (one - math.exp(total * -population[DT_OVER_TAU, j])) * free


@numba.njit(cache=True, fastmath=False)
def _integrate(v, g_exc, g_inh, refractory_left, population, method, rest_factor):
    """One update of every neuron of a slot, in place (before threshold, input and reset).

    ``rest_factor [2N]``: ``1 - exp(-dt / tau)`` of each neuron, the relaxation factor when it has
    no conductance (:func:`rest_factors`). The arithmetic of :func:`membrane_change`, written out:
    calling it (inlined by numba or by LLVM) made this kernel 20-60 % slower per image (measured
    on 2 CPU cores), and ``tests/test_diehl_cook_cuda.py`` checks that the two give the same bits."""
    one = np.float32(1.0)
    for j in range(v.shape[0]):
        left = max(refractory_left[j] - one, np.float32(0.0))
        refractory_left[j] = left
        free = one - min(left, one)
        ge, gi, vj = g_exc[j], g_inh[j], v[j]
        if method == 0 or method == 3:
            dv = ge * (population[REVERSAL_EXC, j] - vj)
            dv += gi * (population[REVERSAL_INH, j] - vj)
            dv += population[REST, j] - vj
            dv *= free * population[DT_OVER_TAU, j]
            if method == 0 and (ge + gi + one) * population[DT_OVER_TAU, j] > one:
                target = ge * population[REVERSAL_EXC, j]
                target += gi * population[REVERSAL_INH, j]
                target += population[REST, j]
                target /= ge + gi + one
                dv = (target - vj) * free
        else:
            if method == 2:
                ge, gi = ge * population[MEAN_EXC, j], gi * population[MEAN_INH, j]
            total = ge + gi + one
            target = ge * population[REVERSAL_EXC, j]
            target += gi * population[REVERSAL_INH, j]
            target += population[REST, j]
            target /= total
            if total == one:
                dv = (target - vj) * rest_factor[j]
            else:
                dv = (target - vj) * (one - math.exp(total * -population[DT_OVER_TAU, j]))
            dv *= free
        v[j] = vj + dv
        g_exc[j] *= population[DECAY_EXC, j]
        g_inh[j] *= population[DECAY_INH, j]


@numba.njit(cache=True)
def rest_factors(population):
    """``1 - exp(-dt / tau) [2N]``: each neuron's relaxation factor with no conductance, the bits
    :func:`_integrate` computes with ``g_e = g_i = 0`` (``total = 1``, and ``1 * x`` is ``x``)."""
    factors = np.empty(population.shape[1], dtype=population.dtype)
    for j in range(factors.shape[0]):
        factors[j] = np.float32(1.0) - math.exp(-population[DT_OVER_TAU, j])
    return factors


@numba.njit(cache=True)
def _learn_step(weight, sources, pre, post1, post2, spikes, n, scalars):
    """The STDP of one step (after the input drive): traces, depression of the rows of the inputs
    that spiked, potentiation of the columns of the excitatory neurons that spiked."""
    zero, w_max = np.float32(0.0), scalars[W_MAX]
    pre *= scalars[DECAY_PRE]
    post1 *= scalars[DECAY_POST1]
    post2 *= scalars[DECAY_POST2]
    for source in sources:
        pre[source] = max(pre[source], np.float32(1.0))
        for j in range(n):
            w = weight[source, j]
            weight[source, j] = w + (min(max(w - scalars[NU_PRE] * post1[j], zero), w_max) - w)
    for j in range(n):
        if spikes[j] > zero:
            for i in range(weight.shape[0]):
                grown = weight[i, j] + scalars[NU_POST] * pre[i] * post2[j]
                weight[i, j] = min(max(grown, zero), w_max)
    for j in range(n):
        post1[j] = max(post1[j], spikes[j])
        post2[j] = max(post2[j], spikes[j])


@numba.njit(cache=True)
def _slot(weight, v, g_exc, g_inh, refractory_left, theta, pre, post1, post2, steps, sources, counts,
          fired, population, scalars, method, learning, presentation_steps, total_steps):  # fmt: skip
    """Every step (input, then rest) of one slot, in place."""
    n = counts.shape[0]
    zero = np.float32(0.0)
    spikes = np.zeros(v.shape[0], dtype=v.dtype)
    drive = np.zeros(n, dtype=g_exc.dtype)
    rest_factor = rest_factors(population)
    first = 0
    for t in range(total_steps):
        last = first
        while last < steps.shape[0] and steps[last] == t:
            last += 1
        _integrate(v, g_exc, g_inh, refractory_left, population, method, rest_factor)
        if learning:
            theta *= scalars[THETA_DECAY]
        inhibitory_total = zero
        for j in range(v.shape[0]):
            above = v[j] - population[THRESHOLD, j] - theta[j] > zero
            spikes[j] = np.float32(1.0) if above and refractory_left[j] <= zero else zero
            if j >= n:
                inhibitory_total += spikes[j]
        # The input drive is summed first and then added, as the torch simulation's index_add does
        # (float sums depend on their order).
        drive[:] = zero
        for e in range(first, last):
            for j in range(n):
                drive[j] += weight[sources[e], j]
        for j in range(n):
            g_exc[j] += drive[j]
        for j in range(n):
            g_exc[n + j] += spikes[j] * scalars[W_EXC_INH]
            g_inh[j] += (inhibitory_total - spikes[n + j]) * scalars[W_INH_EXC]
        if learning:
            _learn_step(weight, sources[first:last], pre, post1, post2, spikes[:n], n, scalars)
            for j in range(n):
                theta[j] += spikes[j] * scalars[THETA_PLUS]
        for j in range(v.shape[0]):
            if spikes[j] > zero:
                v[j] = v[j] + (population[RESET, j] - v[j])
                refractory_left[j] += population[REFRACTORY_STEPS, j]
                fired[j] += 1
                if j < n and t < presentation_steps:
                    counts[j] += np.float32(1.0)
        first = last


@numba.njit(cache=True, parallel=True)
def present_slots(weights, v, g_exc, g_inh, refractory_left, theta, pre, post1, post2, offsets, steps,
                  sources, counts, fired, population, scalars, method, learning, presentation_steps,
                  total_steps):  # fmt: skip
    """Every slot's presentation (input, then rest), slots in parallel, all arrays in place.

    ``weights [S or 1, D, N]``: each slot's own copy (changed by its STDP when ``learning``) or one
    shared by all; ``counts [S, N]`` (float32) gains the excitatory spikes during the input,
    ``fired [S, 2N]`` (int64) every spike; the other arrays as in the module docstring."""
    n_slots = v.shape[0]
    for s in numba.prange(n_slots):
        w = weights[s] if weights.shape[0] > 1 else weights[0]
        lo, hi = offsets[s], offsets[s + 1]
        _slot(w, v[s], g_exc[s], g_inh[s], refractory_left[s], theta[s], pre[s], post1[s], post2[s],
              steps[lo:hi], sources[lo:hi], counts[s], fired[s], population, scalars, method, learning,
              presentation_steps, total_steps)  # fmt: skip


def use_threads(count: int) -> None:
    """Run the slots on ``count`` threads (at most numba's pool, ``NUMBA_NUM_THREADS``). Slots are
    independent, so the thread count changes the speed only, never a result."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))


def population_table(population, constants, dtype=np.float32) -> np.ndarray:
    """The per-neuron constants of a stacked population (:func:`~neurosim.neurons.conductance_lif.stacked`)
    and its :class:`~neurosim.neurons.conductance_lif.EulerConstants` as a ``[11, 2N]`` table of
    ``dtype`` (the simulation's). The constants are float32 tensors in the torch simulation too,
    so they are rounded to float32 first, whatever the simulation's precision."""
    size = population.rest.shape[0]

    def row(value) -> np.ndarray:
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        return np.broadcast_to(array.astype(np.float32).astype(dtype), (size,))

    rows = [None] * N_POPULATION_ROWS
    rows[REST], rows[RESET], rows[THRESHOLD] = population.rest, population.reset, population.threshold
    rows[DT_OVER_TAU], rows[REFRACTORY_STEPS] = constants.dt_over_tau, constants.refractory_steps
    rows[DECAY_EXC], rows[DECAY_INH] = constants.excitatory_decay, constants.inhibitory_decay
    rows[MEAN_EXC], rows[MEAN_INH] = constants.excitatory_mean, constants.inhibitory_mean
    rows[REVERSAL_EXC], rows[REVERSAL_INH] = population.reversal_excitatory, population.reversal_inhibitory
    return np.ascontiguousarray(np.stack([row(value) for value in rows]))


def scalar_table(params, theta_decay: float, dtype=np.float32) -> np.ndarray:
    """The network's scalar constants (:class:`~neurosim.models.diehl_cook_layer.DiehlCookParams`)
    as the vector the kernel reads, in the weights' ``dtype`` (Python floats in the torch
    simulation, so they take the precision of the weights, traces and thresholds they scale)."""
    from neurosim.rules.stdp import trace_decay

    values = [0.0] * N_SCALARS
    values[W_EXC_INH], values[W_INH_EXC] = params.weight_exc_inh, params.weight_inh_exc
    # theta_plus is a float32 tensor in the torch simulation (it is 0 for inhibitory neurons).
    values[THETA_DECAY], values[THETA_PLUS] = theta_decay, float(np.float32(params.theta_plus))
    values[DECAY_PRE] = trace_decay(params.dt, params.tau_pre)
    values[DECAY_POST1] = trace_decay(params.dt, params.tau_post1)
    values[DECAY_POST2] = trace_decay(params.dt, params.tau_post2)
    values[NU_PRE], values[NU_POST], values[W_MAX] = params.nu_pre, params.nu_post, params.w_max
    return np.asarray(values, dtype=dtype)
