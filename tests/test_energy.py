"""Energy: memory-event counts by hand, profile integrity, pricing rules, the worked example of
docs/references/energy.md section 4.3 as a regression fixture, the measurement protocol on a fake
counter, and the analysis of a stored run."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.analysis.energy import analyse_energy
from neurosim.energy.measurement import (
    CounterUnavailable,
    RaplCounter,
    energy_delta,
    measure_energy,
)
from neurosim.energy.pricing import TERMS, price
from neurosim.energy.profiles import COMPUTE_TERMS, hardware_profile, hardware_profiles, parse_profiles
from neurosim.errors import UserError
from neurosim.metrics import count_operations, ledger
from neurosim.neurons import LIF, LIFParams
from tests.conftest import run_cli


def _single_layer_counts(x: torch.Tensor) -> dict[str, float]:
    layer = nn.Linear(3, 2, bias=False)
    with count_operations(layer) as counts:
        layer(x)
    return counts.per_sample()[""]


def test_memory_events_of_a_real_valued_input_by_hand():
    row = _single_layer_counts(torch.tensor([[1.0, 0.0, 2.5]]))
    # Two non-zero inputs x two outputs: 4 MACs, each fetching one weight; 2 inputs read; each of the
    # 2 outputs accumulated in a register and written once; no potential traffic.
    assert (row["effective_macs"], row["effective_acs"], row["weight_reads"]) == (4, 0, 4)
    assert (row["input_reads"], row["output_writes"], row["state_reads"], row["state_writes"]) == (2, 2, 0, 0)
    assert (row["weight_elements"], row["input_elements"], row["state_elements"]) == (6, 3, 2)


def test_memory_events_of_a_spike_input_by_hand():
    row = _single_layer_counts(torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    # Per sample: (2 + 1) spikes x 2 targets / 2 samples = 3 ACs, each a weight read and a
    # read-modify-write of its target's potential; nothing is written out by the synapses.
    assert (row["effective_acs"], row["effective_macs"], row["weight_reads"]) == (3, 0, 3)
    assert (row["state_reads"], row["state_writes"], row["output_writes"], row["input_reads"]) == (
        3,
        3,
        0,
        1.5,
    )


class ReducingLayer(nn.Module):
    """A dense-like layer that reduces its 6 outputs to 2 (the Neocognitron's top cells do this)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(6, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.weight.T).reshape(len(x), 2, 3).amax(2)


def test_a_layer_that_reduces_its_outputs_is_counted_by_its_synapses():
    layer = ReducingLayer()
    with count_operations(layer) as counts:
        layer(torch.tensor([[1.0, 0.5, 0.0, 2.0]]))
    row = counts.per_sample()[""]
    assert row["effective_macs"] == 3 * 6 and row["output_writes"] == 6
    assert (row["weight_elements"], row["input_elements"], row["state_elements"]) == (24, 4, 2)


def test_a_lif_population_reads_and_writes_its_state_every_step():
    lif = LIF(LIFParams(beta=0.5, threshold=1.0))
    with count_operations(lif) as counts:
        lif(torch.tensor([[2.0, 0.0, 0.5, 3.0]]), None)
    row = counts.per_sample()[""]
    assert (row["neuron_updates"], row["state_reads"], row["state_writes"]) == (4, 4, 4)
    assert row["spikes"] == row["output_writes"] == 2 and row["state_elements"] == 4


# --- profiles ------------------------------------------------------------------------------------


def test_every_shipped_price_has_a_source_and_the_composites_add_up():
    profiles = hardware_profiles()
    required = {"horowitz45_fp32_compute", "horowitz45_fp32_memory", "loihi_2018", "truenorth_2014"}
    assert required | {"spinnaker2_2019", "biology"} <= set(profiles)
    for profile in profiles.values():
        assert profile.prices and all(p.source and p.evidence for p in profile.prices.values())
    for precision, (mul, add) in {"fp32": (3.7, 0.9), "int8": (0.2, 0.03)}.items():
        prices = profiles[f"horowitz45_{precision}_compute"].prices
        assert prices["mac"].value == pytest.approx(mul + add)  # E_MAC = E_MUL + E_ADD (not the MUL alone)
        assert prices["ac"].value == pytest.approx(add)
        assert prices["lif_update"].value == pytest.approx(prices["mac"].value + prices["ac"].value)
    # The memory-aware profiles price exactly the same arithmetic.
    assert profiles["horowitz45_fp32_memory"].prices == profiles["horowitz45_fp32_compute"].prices


def test_a_broken_profile_names_the_profile_and_the_key():
    entry = {
        "id": "broken",
        "title": "t",
        "device": "d",
        "precision": "p",
        "scope": "per-op",
        "prices": {"ac": {"value": 1.0, "evidence": "M"}},
        "memory": {"model": "none"},
    }
    with pytest.raises(UserError, match="'broken', price 'ac': missing source"):
        parse_profiles({"profiles": [entry]})
    entry["prices"] = {"flop": {"value": 1.0, "evidence": "M", "source": "s"}}
    with pytest.raises(UserError, match="unknown term 'flop'; terms: mac, ac"):
        parse_profiles({"profiles": [entry]})
    entry["prices"] = {"ac": {"value": 1.0, "evidence": "M", "source": "s"}}
    entry["memory"] = {"model": "lemaire_fit", "bits": 8}
    with pytest.raises(UserError, match="memory needs intercept, slope, source"):
        parse_profiles({"profiles": [entry]})
    with pytest.raises(UserError, match="unknown hardware profile 'tpu'; profiles: horowitz45_fp32_compute"):
        hardware_profile("tpu")


# --- pricing -------------------------------------------------------------------------------------


def _row(**counts: float) -> dict[str, float]:
    return {"weight_elements": 0, "input_elements": 0, "state_elements": 0, **counts}


def test_unpriced_terms_are_named_included_terms_add_nothing_and_memory_can_be_undefined():
    spiking = {"hidden": _row(effective_macs=100, neuron_updates=50, spikes=10, effective_acs=40)}
    kinds = {"hidden": "lif"}
    truenorth = price(spiking, kinds, hardware_profile("truenorth_2014"))
    # All-in: only the synaptic events are priced; neuron updates and spikes are inside the 26 pJ.
    assert truenorth.by_term["ac"] == pytest.approx(40 * 26.0)
    assert truenorth.by_term["lif_update"] == 0 and truenorth.by_term["spike"] == 0
    # Real-valued MACs have no price on a spiking chip: unpriced, never 0.
    assert truenorth.unpriced == ["mac"] and math.isnan(truenorth.compute)
    assert truenorth.priced_compute == pytest.approx(40 * 26.0)
    compute_only = price(spiking, kinds, hardware_profile("horowitz45_fp32_compute"))
    assert compute_only.compute == pytest.approx(100 * 4.6 + 40 * 0.9 + 50 * 5.5 + 10 * 0.9)
    assert compute_only.unpriced == [] and math.isnan(compute_only.memory)
    # A non-spiking layer's neuron updates are activations, not LIF updates.
    ann = price(
        {"out": _row(neuron_updates=7)}, {"out": "dense"}, hardware_profile("horowitz45_fp32_compute")
    )
    assert ann.by_term["activation"] == pytest.approx(7 * 0.9) and ann.by_term["lif_update"] == 0


def test_lemaire_access_energy_prices_each_access_by_its_memory():
    profile = hardware_profile("horowitz45_fp32_memory")
    assert profile.access_energy(203_264) == pytest.approx(1.09e-5 * 203_264 * 32 + 13.2)  # ~84 pJ
    row = _row(weight_reads=10, weight_elements=1000, state_reads=3, state_writes=3, state_elements=10)
    estimate = price({"l": row}, {"l": "dense"}, profile)
    assert estimate.by_term["weight_read"] == pytest.approx(10 * (1.09e-5 * 1000 * 32 + 13.2))
    assert (
        estimate.by_term["state_read"]
        == estimate.by_term["state_write"]
        == pytest.approx(3 * (1.09e-5 * 10 * 32 + 13.2))
    )
    assert hardware_profile("han2015_fp32_sram").access_energy(10**9) == 5.0
    # Beyond the SRAM sizes the line was fitted to, an access costs at most one from DRAM.
    assert profile.access_energy(25_000_000) == 640.0
    assert hardware_profile("horowitz45_int8_memory").access_energy(10**9) == 160.0
    assert profile.access_energy(1_790_000) < 640.0 == profile.access_energy(1_800_000)


#: docs/references/energy.md section 4.3: MNIST 784-256-10, fp32; SNN with T steps, input rate
#: 0.1307 and hidden rate 0.05 per step; one 203,264-word weight memory and one 266-word potential memory.
WORKED_EXAMPLE = {  # T: (compute-only, memory-aware) in µJ, as tabulated (rounded) there
    None: (0.94, 18.0),
    8: (0.20, 24.0),
    25: (0.64, 74.0),
    100: (2.54, 295.0),
}


def _worked_example_ledger(steps: int | None) -> tuple[dict, dict]:
    weights, neurons = 784 * 256 + 256 * 10, 256 + 10
    if steps is None:
        return {"ann": _row(effective_macs=weights, weight_reads=weights, weight_elements=weights)}, {
            "ann": "dense"
        }
    synops = steps * (0.1307 * 784 * 256 + 0.05 * 256 * 10)
    updates = steps * neurons
    potential = synops + updates  # Lemaire: theta_in N_out + T N_out reads, as many writes
    row = _row(
        effective_acs=synops,
        neuron_updates=updates,
        weight_reads=synops,
        weight_elements=weights,
        state_reads=potential,
        state_writes=potential,
        state_elements=neurons,
    )
    return {"snn": row}, {"snn": "lif"}


@pytest.mark.parametrize("steps", list(WORKED_EXAMPLE))
def test_the_worked_mnist_example_of_energy_md(steps):
    ledger, kinds = _worked_example_ledger(steps)
    compute_only = price(ledger, kinds, hardware_profile("horowitz45_fp32_compute"))
    memory_aware = price(ledger, kinds, hardware_profile("horowitz45_fp32_memory"))
    expected_compute, expected_total = WORKED_EXAMPLE[steps]
    # The table is rounded to 2 significant figures and its neuron term to ~1 pJ per update: 2 %.
    assert compute_only.compute / 1e6 == pytest.approx(expected_compute, rel=0.02)
    assert (memory_aware.compute + memory_aware.memory) / 1e6 == pytest.approx(expected_total, rel=0.02)
    if steps is None:  # and the int8 ANN: 47 nJ
        int8 = price(ledger, kinds, hardware_profile("horowitz45_int8_compute"))
        assert int8.compute / 1e3 == pytest.approx(47, rel=0.01)


# --- measurement ---------------------------------------------------------------------------------


class FakeClock:
    """Seconds that pass only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeCounter:
    """A wrapping joule counter on a fake clock: ``idle_power`` W all the time plus what the
    region charges."""

    name = "fake"

    def __init__(self, idle_power: float, wrap: float, clock: FakeClock) -> None:
        self.idle_power, self._wrap, self.calls, self.clock = idle_power, wrap, 0.0, clock

    def charge(self, joules: float) -> None:
        self.calls += joules

    def read(self) -> float:
        return (self.idle_power * self.clock() + self.calls) % self._wrap

    def wrap(self) -> float:
        return self._wrap

    def metadata(self) -> dict:
        return {"counter": "fake"}


def test_energy_delta_corrects_wraparound():
    assert energy_delta(2.0, 5.0, 10.0) == 3.0
    assert energy_delta(9.0, 1.0, 10.0) == pytest.approx(2.0)


def test_measurement_subtracts_idle_power_and_survives_wraparound():
    # The counter wraps several times over the measurement, at most once within a window.
    clock = FakeClock()
    counter = FakeCounter(idle_power=10.0, wrap=40.0, clock=clock)

    def region() -> None:  # 0.5 J above idle, 2 ms long
        counter.charge(0.5)
        clock.sleep(0.002)

    timing = {"idle_seconds": 0.05, "min_window_seconds": 0.05, "sleep": clock.sleep, "clock": clock}
    result = measure_energy(region, counter, warmup=2, repeats=3, **timing)
    # Windows of 1, 2, 4, ... calls until one lasts 50 ms: 32 calls (64 ms, 16.6 J; the counter
    # wraps at 40 J, so between windows). Total per call: 0.5 J + 10 W x 2 ms = 0.52 J.
    assert result.calls_per_window == 32 and result.windows == 3
    assert result.window_s == pytest.approx(0.064) and result.idle_power_w == pytest.approx(10.0)
    assert result.dynamic_j == pytest.approx(0.5) and result.total_j == pytest.approx(0.52)
    assert result.dynamic_sd_j == pytest.approx(0.0, abs=1e-9)
    assert counter.read() < 10.0 * clock() + counter.calls  # it did wrap


def test_rapl_counter_reads_powercap_and_says_why_it_cannot(tmp_path: Path):
    with pytest.raises(CounterUnavailable, match="no RAPL domain"):
        RaplCounter(root=tmp_path)
    domain = tmp_path / "intel-rapl:0"
    domain.mkdir()
    (domain / "energy_uj").write_text("2500000\n")
    (domain / "max_energy_range_uj").write_text("262143328850\n")
    (domain / "name").write_text("package-0\n")
    counter = RaplCounter(root=tmp_path)
    assert counter.read() == 2.5 and counter.wrap() == pytest.approx(262143.32885)
    assert counter.device == "package-0"


# --- analysis of a stored run --------------------------------------------------------------------


def test_energy_analysis_of_a_stored_run_prices_its_exact_counts(stored_perceptron_run):
    from neurosim.analysis.stored_run import load_run
    from neurosim.run_loading import load_fitted_model

    result = analyse_energy(stored_perceptron_run, n_stimuli=100, measure=False)
    assert result.energy.dims == ("model", "seed", "profile", "term")
    assert list(result.term.values) == list(TERMS)
    config, task = load_run(stored_perceptron_run)
    model = load_fitted_model(stored_perceptron_run, config.member("linear"), task, 1)
    per_layer, _ = ledger(model, task.x_test[:100])
    macs = sum(row["effective_macs"] for row in per_layer.values())
    linear = result.sel(model="linear", seed=1)
    assert float(linear.events.sel(term="mac")) == pytest.approx(macs) and macs > 0
    assert float(linear.energy.sel(profile="horowitz45_fp32_compute", term="mac")) == pytest.approx(
        4.6 * macs
    )
    # A real-valued MAC layer has no price on a spiking chip; memory is undefined for a compute-only profile.
    assert np.isnan(float(linear.energy.sel(profile="loihi_2018", term="mac")))
    assert np.isnan(float(linear.energy.sel(profile="horowitz45_fp32_compute", term="weight_read")))
    assert np.isnan(result.measured_total.values).all() and result.attrs["measured"] == "not requested"
    assert {f"profile__{p}" for p in hardware_profiles()} <= set(result.attrs)
    assert set(COMPUTE_TERMS) <= set(result.term.values)


@pytest.mark.slow
def test_neurosim_analyse_energy_reproduces_and_reports(stored_perceptron_run):
    first = analyse_energy(stored_perceptron_run, n_stimuli=2000, measure=False)
    process = run_cli("analyse", str(stored_perceptron_run), "--analyses", "energy")
    report = Path(process.stdout.strip().splitlines()[-1].removeprefix("report: "))
    from neurosim.analysis.energy import stored_energy

    again = stored_energy(stored_perceptron_run)
    np.testing.assert_array_equal(again.energy.values, first.energy.values)
    text = report.read_text()
    assert "Energy per image" in text and "ESTIMATES, not measurements" in text
    assert "perceptron vs. linear" in text and "Measured energy per image (not an estimate)" in text
    assert (report.parent / "figures" / "energy_perceptron_linear.png").stat().st_size > 1000


def test_the_report_names_the_profiles_where_memory_flips_the_comparison():
    import xarray as xr

    from neurosim.analysis.energy_section import pair_table

    profiles = ["horowitz45_fp32_compute", "horowitz45_fp32_memory", "loihi_2018"]
    energy = np.zeros((2, 2, len(profiles), len(TERMS)))  # [model, seed, profile, term] pJ
    mac, ac, weight_read = TERMS.index("mac"), TERMS.index("ac"), TERMS.index("weight_read")
    energy[0, :, :, ac] = 1e6  # bio: 1 µJ of accumulates ...
    energy[1, :, :, mac] = 2e6  # ... twin: 2 µJ of MACs
    energy[0, :, 1, weight_read] = 9e6  # but the bio model reads far more weights
    energy[1, :, 1, weight_read] = 1e6
    energy[:, :, 0, len(COMPUTE_TERMS) :] = np.nan  # compute-only: memory not modelled
    energy[1, :, 2, mac] = np.nan  # the twin's MACs have no price on Loihi
    events = np.ones((2, 2, len(TERMS)))
    dataset = xr.Dataset(
        {
            "energy": (("model", "seed", "profile", "term"), energy),
            "events": (("model", "seed", "term"), events),
        },
        coords={"model": ["bio", "twin"], "seed": [0, 1], "profile": profiles, "term": list(TERMS)},
    )
    table, flips = pair_table(dataset, "bio", "twin")
    assert flips == ["horowitz45_fp32_memory"]
    rows = {row[0]: row for row in table.rows}
    assert (
        rows["horowitz45_fp32_compute"][2] == "not modelled"
        and rows["horowitz45_fp32_compute"][6] == "bio / n/a"
    )
    assert (
        rows["horowitz45_fp32_memory"][5] == "0.5 / 3.33"
        and rows["horowitz45_fp32_memory"][6] == "bio / twin"
    )
    assert rows["loihi_2018"][3].startswith("unpriced (1 mac)") and rows["loihi_2018"][6] == "n/a / n/a"
    energy[1, :, :2, mac] = 1e6  # equal compute: a tie, not a winner
    assert pair_table(dataset, "bio", "twin")[0].rows[0][6] == "tie / n/a"


@pytest.mark.gpu
def test_nvml_measures_a_gpu_workload_within_the_boards_power():
    """The board's NVML counter, through the measurement protocol, on 4096^2 matrix products: the
    joules per call are positive, above the idle power's share and below 1 kW for the call's time."""
    from neurosim.energy.measurement import NvmlCounter

    counter = NvmlCounter()
    a = torch.rand(4096, 4096, device="cuda")

    def region() -> None:
        a @ a

    started = time.perf_counter()
    result = measure_energy(region, counter, warmup=5, idle_seconds=0.5, min_window_seconds=0.5, repeats=3)
    assert time.perf_counter() - started < 60
    seconds_per_call = result.window_s / result.calls_per_window
    assert 0 < result.dynamic_j < result.total_j < 1000 * seconds_per_call
    assert result.idle_power_w > 0 and result.counter.startswith("NVML")
