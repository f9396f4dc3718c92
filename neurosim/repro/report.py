"""A card's report: published against measured, the protocol and its differences, the ablations.

Written as ``<root>/cards/<card>[_<variant>]/report.html`` and ``report.md`` (one :class:`Document`,
escaped like every report) and ``card.json``, the numbers a script or a later report reads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from neurosim.analysis.statistics import Summary
from neurosim.report.document import Document, Table
from neurosim.repro.measure import CardOutcome, Measurement
from neurosim.results.storage import write_text


def _seeds(measured: Measurement) -> str:
    return ", ".join(f"{s}: {a:.4f}" for s, a in zip(measured.seeds, measured.accuracy, strict=True))


def verdict(outcome: CardOutcome) -> str:
    """``within band`` or ``MISSED band`` with the numbers, and any seed that did not learn."""
    summary, band = outcome.measurement.summary, outcome.band
    state = "within band" if outcome.within_band else "MISSED band"
    text = f"{state}: mean {summary.mean:.4f}, expected [{band.low:.4f}, {band.high:.4f}]"
    measured = outcome.measurement
    unlearnt = [s for s, v in zip(measured.seeds, measured.learnt, strict=True) if v == 0]
    diverged = [s for s, v in zip(measured.seeds, measured.diverged, strict=True) if v]
    if unlearnt:
        text += f"; DID NOT LEARN in seeds {unlearnt}"
    if diverged:
        text += f"; DIVERGED in seeds {diverged}"
    return text


def summary_row(outcome: CardOutcome) -> list[str]:
    """One line of a table of cards: name, variant, published, measured, band, verdict."""
    card, band = outcome.card, outcome.band
    return [
        card.name,
        outcome.variant,
        f"{card.paper['published']:.4f}",
        outcome.measurement.summary.text(),
        f"[{band.low:.4f}, {band.high:.4f}]",
        "within" if outcome.within_band else "MISSED",
    ]


SUMMARY_HEADER = ["card", "variant", "published", "measured mean [95 % CI] (seeds)", "band", "verdict"]


def card_report(outcome: CardOutcome, root: str | Path) -> Path:
    """Write the card's report and ``card.json``; returns the HTML path."""
    card, measured = outcome.card, outcome.measurement
    suffix = "" if outcome.variant == "card" else f"_{outcome.variant}"
    out = Path(root) / "cards" / f"{card.name}{suffix}"
    doc = Document()
    doc.heading(f"Repro card {card.name}: {card.title}", 1)
    doc.paragraph(verdict(outcome))
    paper = card.paper
    doc.heading("Published")
    rows = [
        ["paper", paper["citation"]],
        ["DOI", paper["doi"]],
        ["where", paper["where"]],
        ["published accuracy", f"{paper['published']:.4f}"],
        ["published protocol", paper["protocol"]],
    ]
    if "code" in paper:
        rows.append(["authors' code", paper["code"]])
    doc.table(Table(["", ""], rows))
    doc.heading("Measured")
    doc.table(
        Table(
            ["variant", "model", "metric", "mean [95 % CI] (seeds)", "per seed", "band"],
            [
                [
                    outcome.variant,
                    card.model,
                    card.metric,
                    measured.summary.text(),
                    _seeds(measured),
                    f"[{outcome.band.low:.4f}, {outcome.band.high:.4f}]",
                ]
            ],
        )
    )
    doc.paragraph(f"Why this band: {outcome.band.why}")
    doc.paragraph(f"Data: {measured.task_description}")
    doc.paragraph(f"Run folder: {measured.run_dir}")
    doc.heading("Differences from the paper's protocol")
    for difference in card.differences:
        doc.paragraph(f"- {difference}")
    if outcome.ablations:
        _ablations_section(doc, outcome)
    if card.findings:
        doc.heading("What the measurement showed")
        for finding in card.findings:
            doc.paragraph(f"- {finding}")
    doc.heading("Provenance")
    doc.code(json.dumps(measured.provenance, indent=2, sort_keys=True))
    write_text(out / "card.json", json.dumps(card_numbers(outcome), indent=2, sort_keys=True))
    return doc.write(out, f"repro card {card.name}")


def _ablations_section(doc: Document, outcome: CardOutcome) -> None:
    doc.heading("Ablations (paired over seeds: ablation - card)")
    rows = [
        [
            effect.ablation.name,
            effect.ablation.what,
            effect.measurement.summary.text(),
            effect.delta.text(),
        ]
        for effect in outcome.ablations
    ]
    doc.table(Table(["ablation", "what it changes", "accuracy", "delta [95 % CI]"], rows))


def card_numbers(outcome: CardOutcome) -> dict:
    """The card's numbers as plain data (``card.json``)."""

    def numbers(summary: Summary) -> dict:
        return {k: (None if math.isnan(v) else v) for k, v in vars(summary).items() if k != "n"} | {
            "n": summary.n
        }

    measured = outcome.measurement
    return {
        "card": outcome.card.name,
        "variant": outcome.variant,
        "model": outcome.card.model,
        "metric": outcome.card.metric,
        "published": outcome.card.paper["published"],
        "band": [outcome.band.low, outcome.band.high],
        "within_band": outcome.within_band,
        "seeds": list(measured.seeds),
        "accuracy": [None if math.isnan(a) else float(a) for a in measured.accuracy],
        "learnt": np.asarray(measured.learnt).tolist(),
        "diverged": np.asarray(measured.diverged).astype(int).tolist(),
        "measured": numbers(measured.summary),
        "run_dir": str(measured.run_dir),
        "ablations": {
            e.ablation.name: {"accuracy": numbers(e.measurement.summary), "delta": numbers(e.delta)}
            for e in outcome.ablations
        },
        "provenance": measured.provenance,
    }
