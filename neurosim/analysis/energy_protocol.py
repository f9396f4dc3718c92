"""The energy of a simulated protocol's windows (Diehl & Cook: the 350 ms presentation, the 150 ms
rest, the re-presentations), computed with the energy analysis and written into its section.

The ledger of a model whose layer simulates a protocol is split by
:func:`neurosim.energy.protocol.split_ledger` and each window priced by every profile; other
models get NaN. The section shows, per model with a protocol, each window's energy per image under
the reference profiles, compute-only and memory-aware, and the presentations per image.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurosim.analysis.statistics import mean_ci
from neurosim.analysis.study import Page
from neurosim.energy.pricing import TERMS, price
from neurosim.energy.profiles import COMPUTE_TERMS
from neurosim.energy.protocol import WINDOWS, has_protocol, split_ledger

#: The profiles the section shows a protocol's windows under (compute-only, memory-aware).
SHOWN = ("horowitz45_fp32_compute", "horowitz45_fp32_memory")


def protocol_energy(
    per_layer: dict[str, dict[str, float]], kinds: dict[str, str], profiles: dict
) -> np.ndarray:
    """pJ per image ``[window, profile, term]`` of each protocol window; NaN without a protocol."""
    energy = np.full((len(WINDOWS), len(profiles), len(TERMS)), np.nan)
    if not has_protocol(per_layer):
        return energy
    for w, ledger in enumerate(split_ledger(per_layer).values()):
        for p, profile in enumerate(profiles.values()):
            by_term = price(ledger, kinds, profile).by_term
            energy[w, p] = [by_term[t] for t in TERMS]
    return energy


def presentations_per_image(per_layer: dict[str, dict[str, float]]) -> float:
    """Presentations per image (1 + re-presentations) of the ledger's protocol; NaN without one."""
    counts = [row["presentations"] for row in per_layer.values() if row.get("presentations")]
    return float(sum(counts)) if counts else float("nan")


def _window_text(values: np.ndarray) -> str:
    summary = mean_ci(values)
    return f"{summary.mean:.3g}" + (
        "" if np.isnan(summary.low) else f" [{summary.low:.3g}, {summary.high:.3g}]"
    )


def protocol_section(page: Page, energy: xr.Dataset) -> None:
    """Per model with a protocol: each window's energy per image (µJ) under :data:`SHOWN`."""
    if "protocol_energy" not in energy:
        return
    members = [str(m) for m in energy.model.values if not np.isnan(energy.presentations.sel(model=m)).all()]
    if not members:
        return
    page.heading("Energy per image by protocol window (estimates)", 3)
    page.paragraph(
        "Diehl & Cook present each image for 350 ms, then rest 150 ms (no input; the state decays "
        "into the next image), and present again, brighter, an image that evoked fewer than 5 "
        "spikes. The 350 ms presentation alone is what an inference needs; the rest and the "
        "re-presentations are the protocol's overhead. Neuron-step work is split exactly; "
        "spike-driven work goes to the input windows (a re-presentation gets the average input "
        "window's share, the few spikes of a rest its presentation's: neurosim/energy/protocol.py)."
    )
    rows = []
    for member in members:
        presentations = float(energy.presentations.sel(model=member).mean())
        totals = {window: _window_totals(energy, member, window) for window in WINDOWS}
        image = sum(compute for compute, _ in totals.values())
        for window, (compute, memory_aware) in totals.items():
            share = f"{100 * float(np.mean(compute / image)):.1f} %"
            rows.append(
                [
                    member,
                    window,
                    f"{presentations:.3g}",
                    _window_text(compute),
                    share,
                    _window_text(memory_aware),
                ]
            )
    header = [
        "model",
        "window",
        "presentations per image",
        f"µJ per image, compute-only ({SHOWN[0]})",
        "share of the image (compute-only)",
        f"µJ per image, memory-aware ({SHOWN[1]})",
    ]
    page.table(header, rows)


def _window_totals(energy: xr.Dataset, member: str, window: str) -> tuple[np.ndarray, np.ndarray]:
    """Per seed, µJ per image of one window: compute-only under ``SHOWN[0]``, memory-aware
    (compute and memory) under ``SHOWN[1]``."""
    stored = energy.protocol_energy.sel(model=member, window=window)
    compute = stored.sel(profile=SHOWN[0], term=list(COMPUTE_TERMS)).sum("term").values / 1e6
    aware = stored.sel(profile=SHOWN[1]).sum("term", skipna=False).values / 1e6
    return compute, aware
