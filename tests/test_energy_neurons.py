"""Neuron pricing: a conductance neuron's update counted operation by operation (by hand, and
against the kernel's own arithmetic), priced per operation; Loihi's inactive updates for silent
neuron-steps (exact for LIF, a bound for Diehl & Cook); word-packed int8 memory."""

from __future__ import annotations

import math
import types
from typing import ClassVar

import pytest
import torch

from neurosim.energy.pricing import NeuronPricing, price
from neurosim.energy.profiles import hardware_profile
from neurosim.metrics import count_operations
from neurosim.metrics.neuron_operations import CONDUCTANCE_OPS, NeuronOps, active_bound, conductance_counts
from neurosim.models import diehl_cook_kernel as kernel
from neurosim.models.diehl_cook_layer import DiehlCookLayer, RunStats, preset
from neurosim.neurons import LIF, LIFParams

FP32 = hardware_profile("horowitz45_fp32_compute")


def test_hand_counted_conductance_update_and_its_price():
    """One excitatory neuron, one 0.5 ms step, forward Euler (the default), thresholds frozen:

    r' = max(r - 1, 0)                 1 add, 1 compare
    free = 1 - min(r', 1)              1 add, 1 compare
    dv = g_e (E_exc - v)               1 add, 1 mul
    dv += g_i (E_inh - v)              2 add, 1 mul
    dv += E_rest - v                   2 add
    dv *= free (dt / tau_m)            2 mul
    (g_e + g_i + 1) dt / tau_m > 1     2 add, 1 mul, 1 compare   (the bounded step's test)
    v += dv                            1 add
    g_e *= d_e, g_i *= d_i             2 mul                     (decays precomputed: no exp)
    v - thresh - theta > 0, r' <= 0    2 add, 2 compare
    total: 12 adds, 7 multiplies, 5 compares, 0 divisions, 0 exps;
    state: v, g_e, g_i, r, theta read (5), v, g_e, g_i, r written (4).

    Priced at Horowitz 45 nm fp32 (add 0.9, mult 3.7, compare as an add 0.9 pJ):
    12 x 0.9 + 7 x 3.7 + 5 x 0.9 = 10.8 + 25.9 + 4.5 = 41.2 pJ (the LIF price was 5.5 pJ).
    Exponential Euler: 11 adds, 7 multiplies, 5 compares, a division (7.1 x 3.7 = 26.27 pJ) and
    an exp (assumed 8 MACs, 36.8 pJ): 9.9 + 25.9 + 4.5 + 26.27 + 36.8 = 103.37 pJ.
    """
    assert CONDUCTANCE_OPS["euler"] == NeuronOps(12, 7, 5, 0, 0, 5, 4)
    assert CONDUCTANCE_OPS["exponential_euler"] == NeuronOps(11, 7, 5, 1, 1, 5, 4)
    params = types.SimpleNamespace(integration="euler", presentation_steps=1, rest_steps=0)
    stats = RunStats(steps=1, input_steps=1)
    row = {"neuron_updates": 2, **conductance_counts(stats, 1, 1, params, learning=False)}
    # One step of one pair (2 neurons): per neuron 41.2 pJ.
    assert price({"l": row}, {"l": "spiking"}, FP32).by_term["lif_update"] == pytest.approx(2 * 41.2)
    assert price({"l": row}, {"l": "spiking"}, FP32, NeuronPricing(counted=False)).by_term[
        "lif_update"
    ] == pytest.approx(2 * 5.5)
    params.integration = "exponential_euler"
    row = {"neuron_updates": 2, **conductance_counts(stats, 1, 1, params, learning=False)}
    assert price({"l": row}, {"l": "spiking"}, FP32).by_term["lif_update"] == pytest.approx(2 * 103.37)
    # Learning adds the threshold's decay, 1 multiply per excitatory neuron and step.
    learning = conductance_counts(stats, 1, 1, params, learning=True)
    assert learning["neuron_muls"] == 2 * 7 + 1 and learning["neuron_state_writes"] == 2 * 4 + 1


class Counted:
    """A number that counts the arithmetic done with it (``__array_ufunc__ = None``: numpy
    scalars defer to it, so ``np.float32(1) - x`` is counted too)."""

    __array_ufunc__ = None
    ops: ClassVar[dict[str, int]] = {}

    def __init__(self, value: float) -> None:
        self.value = float(value)

    @classmethod
    def _count(cls, op: str) -> None:
        cls.ops[op] = cls.ops.get(op, 0) + 1

    def _binary(self, other, op: str, fn) -> Counted:
        self._count(op)
        return Counted(fn(self.value, other.value if isinstance(other, Counted) else float(other)))

    def __add__(self, o):
        return self._binary(o, "adds", lambda a, b: a + b)

    def __radd__(self, o):
        return self._binary(o, "adds", lambda a, b: b + a)

    def __sub__(self, o):
        return self._binary(o, "adds", lambda a, b: a - b)

    def __rsub__(self, o):
        return self._binary(o, "adds", lambda a, b: b - a)

    def __mul__(self, o):
        return self._binary(o, "muls", lambda a, b: a * b)

    def __rmul__(self, o):
        return self._binary(o, "muls", lambda a, b: b * a)

    def __truediv__(self, o):
        return self._binary(o, "divisions", lambda a, b: a / b)

    def __neg__(self):  # a sign flip of a constant, free in hardware
        return Counted(-self.value)

    def __gt__(self, o):
        self._count("compares")
        return self.value > (o.value if isinstance(o, Counted) else float(o))

    def __eq__(self, o):
        self._count("compares")
        return self.value == (o.value if isinstance(o, Counted) else float(o))

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize("method", list(CONDUCTANCE_OPS))
def test_the_counts_are_the_kernels_own_arithmetic(method, monkeypatch):
    """The kernel's membrane change (the arithmetic the CPU and CUDA kernels run, checked bit for
    bit against each other elsewhere), run on counting numbers with conductances present; the rest
    of an update is outside it and counted by hand: the refractory counter and ``free`` (2 adds, 2
    compares), ``v += dv`` (1 add), the two decays (2 multiplies), the threshold (2 adds, 2
    compares)."""
    table = {
        kernel.REVERSAL_EXC: 0.0,
        kernel.REVERSAL_INH: -100.0,
        kernel.REST: -65.0,
        kernel.DT_OVER_TAU: 0.005,
        kernel.MEAN_EXC: 0.8,
        kernel.MEAN_INH: 0.9,
    }
    population = type("Table", (), {"__getitem__": lambda self, key: Counted(table[key[0]])})()
    exp_calls = []
    monkeypatch.setattr(
        kernel, "math", types.SimpleNamespace(exp=lambda x: exp_calls.append(1) or Counted(math.exp(x.value)))
    )
    Counted.ops = {}
    code = kernel.METHOD_CODES[method]
    kernel.membrane_change(Counted(-60.0), Counted(0.3), Counted(0.2), Counted(1.0), population, 0, code, 0.1)
    ops = Counted.ops
    outside = {"adds": 2 + 1 + 2, "muls": 2, "compares": 2 + 2}
    counted = NeuronOps(
        ops.get("adds", 0) + outside["adds"],
        ops.get("muls", 0) + outside["muls"],
        ops.get("compares", 0) + outside["compares"],
        ops.get("divisions", 0),
        len(exp_calls),
        5,
        4,
    )
    assert counted == CONDUCTANCE_OPS[method]


def _tiny_layer() -> DiehlCookLayer:
    """3 inputs, 2 pairs; 2 ms of input, 1 ms rest (4 + 2 steps), forward Euler."""
    params = preset("paper", presentation=2.0, rest=1.0, min_spikes=5, max_presentations=3)
    return DiehlCookLayer(3, 2, params, simulator="torch")


def test_blank_images_are_silent_re_presented_and_priced_inactive_on_loihi():
    """Two blank images: no input spike and no spike, so every neuron-step is silent, and each
    image is presented 3 times (fewer than 5 spikes). Per image: 3 x 6 steps x 4 neurons = 72
    neuron-steps, 1 x 2 x 4 = 8 in the first presentation's rest, 2 x 6 x 4 = 48 in
    re-presentations. Loihi: 72 x 52 pJ (inactive) instead of 72 x 81 pJ."""
    layer = _tiny_layer()
    with count_operations(layer) as counted:
        layer(torch.zeros(2, 3))
    row = counted.per_sample()[""]
    assert (row["neuron_updates"], row["conductance_updates"], row["active_neuron_updates"]) == (72, 72, 0)
    assert (row["presentations"], row["rest_neuron_updates"], row["repeat_neuron_updates"]) == (3, 8, 48)
    assert row["neuron_adds"] == 72 * 12 and row["neuron_state_reads"] == 72 * 5
    loihi = hardware_profile("loihi_2018")
    assert price({"l": row}, {"l": "spiking"}, loihi).by_term["lif_update"] == pytest.approx(72 * 52.0)
    every_active = price({"l": row}, {"l": "spiking"}, loihi, NeuronPricing(inactive=False))
    assert every_active.by_term["lif_update"] == pytest.approx(72 * 81.0)


def test_the_active_bound_of_a_simulation_by_hand():
    # 10 slot-steps of 3 pairs, 4 of them with input, 2 input spikes, 1 excitatory, 2 inhibitory:
    # excitatory <= 3 x min(4, 2) + (3 - 1) x 2 + 1 = 11; inhibitory <= 1 + 2 = 3.
    stats = RunStats(steps=10, input_steps=4, input_spikes=2, excitatory_spikes=1, inhibitory_spikes=2)
    assert active_bound(stats, 3) == 14
    # Never more than every neuron-step.
    assert active_bound(RunStats(2, 2, 100, 50, 50), 3) == 12


def test_lif_active_steps_are_counted_exactly_and_priced_on_loihi():
    lif = LIF(LIFParams(beta=0.5, threshold=1.0))
    with count_operations(lif) as counts:
        lif(torch.tensor([[2.0, 0.0, 0.5, 3.0]]), None)
    row = counts.per_sample()[""]
    # Input to neurons 0, 2, 3 (0 and 3 fire); neuron 1 is silent.
    assert row["active_neuron_updates"] == 3 and row["neuron_updates"] == 4
    loihi = price({"l": row}, {"l": "lif"}, hardware_profile("loihi_2018"))
    assert loihi.by_term["lif_update"] == pytest.approx(3 * 81 + 52)
    # Horowitz has no inactive price: every update at 5.5 pJ, as before.
    assert price({"l": row}, {"l": "lif"}, FP32).by_term["lif_update"] == pytest.approx(4 * 5.5)


def test_word_packed_int8_prices_a_value_at_an_eighth_of_a_64_bit_word():
    """8 int8 values per 64-bit word, read together: per value E(n / 8 words, 64 bits) / 8 =
    (1.09e-5 x (n / 8) x 64 + 13.2) / 8 = (1.09e-5 x 8n + 13.2) / 8, an eighth of the unpacked
    8-bit access at the same memory."""
    packed = hardware_profile("horowitz45_int8_memory_packed")
    unpacked = hardware_profile("horowitz45_int8_memory")
    n = 78_400
    assert packed.access_energy(n) == pytest.approx((1.09e-5 * n / 8 * 64 + 13.2) / 8)
    assert packed.access_energy(n) == pytest.approx(unpacked.access_energy(n) / 8)
    # Capped at a 64-bit DRAM access (2 x 640 pJ) per word, an eighth of it per value.
    assert packed.access_energy(10**10) == pytest.approx(1280.0 / 8)
    assert packed.prices == unpacked.prices
