"""Measured energy: joules read from the machine's own counters, never estimated.

Counters (cumulative energy, read before and after a region):

* :class:`NvmlCounter`: an NVIDIA GPU's total-energy counter, ``nvmlDeviceGetTotalEnergyConsumption``
  (mJ since the driver loaded; Volta and newer; no root), through ``nvidia-ml-py`` (``pynvml``).
  The whole board, all processes.
* :class:`RaplCounter`: a CPU package's RAPL counter under ``/sys/class/powercap/intel-rapl:N``
  (``energy_uj``, wrapping at ``max_energy_range_uj``; AMD too since Linux 5.8). Usually readable
  by root only (CVE-2020-8694) and absent in many VMs and containers. The whole socket, all
  processes. Sub-domains (core, uncore, dram) sit inside the package and are not added to it.

:func:`available_counter` returns the first that works, with the reasons the others do not.

Protocol (:func:`measure_energy`; ``docs/references/energy.md`` section 5.4): warm-up calls; an
idle baseline ``P_idle`` over ``idle_seconds``; then ``repeats`` windows, each repeating the region
until it lasts at least ``min_window_seconds`` (the NVML counter updates every 20-100 ms and the
H100 samples power a quarter of the time, so short windows read 0 or are quantised). Per window::

    E_total = E1 - E0 (wraparound corrected),   E_dynamic = E_total - P_idle * duration

reported per call of the region, mean and standard deviation over windows. A CUDA region is
synchronised before each read.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

POWERCAP = Path("/sys/class/powercap")


class CounterUnavailable(RuntimeError):
    """This machine has no readable counter of this kind (the message says why)."""


class NvmlCounter:
    """Total energy of one NVIDIA GPU, in joules."""

    name = "nvml"

    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml
        except ImportError as error:
            raise CounterUnavailable("nvidia-ml-py is not installed") from error
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except pynvml.NVMLError as error:
            raise CounterUnavailable(f"NVML: {error}") from error
        self._nvml = pynvml
        name = pynvml.nvmlDeviceGetName(self._handle)
        self.device = name.decode() if isinstance(name, bytes) else str(name)

    def read(self) -> float:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0

    def wrap(self) -> float:
        return float("inf")  # a 64-bit mJ counter does not wrap within a run

    def metadata(self) -> dict:
        nvml, handle = self._nvml, self._handle
        return {
            "counter": "NVML total energy (whole board)",
            "device": self.device,
            "driver": str(nvml.nvmlSystemGetDriverVersion()),
            "power_limit_w": nvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000.0,
            "temperature_c": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
        }


class RaplCounter:
    """Energy of one CPU package through Linux powercap RAPL, in joules."""

    name = "rapl"

    def __init__(self, domain: str = "intel-rapl:0", root: Path = POWERCAP) -> None:
        self._path = root / domain
        energy = self._path / "energy_uj"
        if not energy.exists():
            raise CounterUnavailable(f"no RAPL domain at {self._path} (no powercap, or a VM or container)")
        try:
            energy.read_text()
        except OSError as error:
            raise CounterUnavailable(
                f"{energy} is not readable ({error.strerror}; root is needed)"
            ) from error
        self.device = (self._path / "name").read_text().strip() if (self._path / "name").exists() else domain

    def read(self) -> float:
        return int((self._path / "energy_uj").read_text()) / 1e6

    def wrap(self) -> float:
        return int((self._path / "max_energy_range_uj").read_text()) / 1e6

    def metadata(self) -> dict:
        return {"counter": f"RAPL {self._path.name} ({self.device}; whole socket)", "device": self.device}


def available_counter() -> tuple[NvmlCounter | RaplCounter | None, list[str]]:
    """The GPU counter when CUDA is in use and NVML works, else the CPU package's RAPL counter;
    ``None`` with the reasons when neither can be read."""
    reasons = [] if torch.cuda.is_available() else ["nvml: no CUDA device in use"]
    kinds: list[Callable] = [NvmlCounter] if torch.cuda.is_available() else []
    for kind in [*kinds, RaplCounter]:
        try:
            return kind(), reasons
        except CounterUnavailable as error:
            reasons.append(f"{kind.name}: {error}")
    return None, reasons


def energy_delta(before: float, after: float, wrap: float) -> float:
    """``after - before`` of a counter that restarts from 0 after ``wrap`` (at most once between
    the two reads: RAPL's package counter wraps after ~262 kJ, minutes at full power)."""
    return after - before if after >= before else after + wrap - before


@dataclass(frozen=True)
class MeasuredEnergy:
    """Joules per call of a region (mean and sd over windows), labelled as measured."""

    total_j: float
    total_sd_j: float
    dynamic_j: float
    dynamic_sd_j: float
    idle_power_w: float
    window_s: float
    calls_per_window: int
    windows: int
    counter: str


def _window(
    region: Callable[[], None], counter, calls: int, sync: Callable[[], None], clock: Callable[[], float]
) -> tuple[float, float]:
    sync()
    start_energy, start = counter.read(), clock()
    for _ in range(calls):
        region()
    sync()
    return energy_delta(start_energy, counter.read(), counter.wrap()), clock() - start


def measure_energy(
    region: Callable[[], None],
    counter,
    *,
    warmup: int = 20,
    idle_seconds: float = 5.0,
    min_window_seconds: float = 2.0,
    repeats: int = 5,
    sync: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
) -> MeasuredEnergy:
    """Measure the joules of one call of ``region`` (see the module docstring for the protocol).
    ``sleep`` and ``clock`` (seconds) are the wall clock's unless a test gives a fake one."""
    sync = sync or (torch.cuda.synchronize if torch.cuda.is_available() else lambda: None)
    for _ in range(warmup):
        region()
    sync()
    idle_start, start = counter.read(), clock()
    sleep(idle_seconds)
    idle_power = energy_delta(idle_start, counter.read(), counter.wrap()) / max(clock() - start, 1e-9)
    # Calibrate the calls per window from one timed call, then double until the window is long enough.
    calls = 1
    while True:
        energy, duration = _window(region, counter, calls, sync, clock)
        if duration >= min_window_seconds:
            break
        calls *= 2
    totals, dynamics, durations = [energy / calls], [(energy - idle_power * duration) / calls], [duration]
    for _ in range(repeats - 1):
        energy, duration = _window(region, counter, calls, sync, clock)
        totals.append(energy / calls)
        dynamics.append((energy - idle_power * duration) / calls)
        durations.append(duration)
    spread = statistics.stdev if len(totals) > 1 else (lambda _: float("nan"))
    return MeasuredEnergy(
        total_j=statistics.fmean(totals),
        total_sd_j=spread(totals),
        dynamic_j=statistics.fmean(dynamics),
        dynamic_sd_j=spread(dynamics),
        idle_power_w=idle_power,
        window_s=statistics.fmean(durations),
        calls_per_window=calls,
        windows=len(totals),
        counter=counter.metadata()["counter"],
    )
