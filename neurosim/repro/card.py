"""Repro cards: a model checked end to end against its own paper's headline number.

A card is a TOML file (``repro/<name>.toml``) that names the paper (full citation, DOI, where the
number is printed), the number and the protocol it was measured on, and a comparison protocol that
neurosim runs (task, budget, preset). It states the band it expects on its own protocol, and why:
on the 10k subset of MNIST's training digits the published 60k/10k numbers are upper anchors, not
targets. Besides the card's protocol a card may give

- ``[quick]``: overrides that make a small-budget version, with a band measured on it, which CI runs
  as a regression test of the model;
- ``[paper_data]``: overrides that run the paper's own data (MNIST's 60k/10k, for users who have
  it: ``neurosim data fetch mnist``), with the published number and its tolerance as the band;
- ``[[ablations]]``: named adaptations (or departures from the paper's protocol), each a list of
  overrides whose effect the card reports as a paired difference over seeds with its CI;
- ``findings``: what its measurement showed, in words (a card that misses its band says why here,
  with the evidence; the band itself is not moved to pass).

Every part of a card is validated (and its protocol resolved, with each variant's overrides) before
anything runs, so a bad card is a one-line error that creates nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import with_config
from typing_extensions import NotRequired, TypedDict

from neurosim.config import ComparisonConfig, apply_override, load_raw, resolve
from neurosim.errors import UserError, choices_message
from neurosim.options import STRICT, table_adapter, validate

CARD_VERSION = 1
VARIANTS = ("card", "quick", "paper_data")


@with_config(STRICT)
class PaperTable(TypedDict):
    citation: str
    doi: str
    where: str
    published: float
    protocol: str
    code: NotRequired[str]


@with_config(STRICT)
class BandTable(TypedDict):
    low: float
    high: float
    why: str


@with_config(STRICT)
class VariantTable(TypedDict):
    overrides: list[str]
    low: float
    high: float
    why: str


@with_config(STRICT)
class AblationTable(TypedDict):
    name: str
    what: str
    overrides: list[str]


@with_config(STRICT)
class CardTable(TypedDict):
    version: int
    title: str
    model: str
    metric: NotRequired[Literal["final", "best_checkpoint", "final_train"]]
    paper: PaperTable
    band: BandTable
    differences: list[str]
    findings: NotRequired[list[str]]
    protocol: dict
    quick: NotRequired[VariantTable]
    paper_data: NotRequired[VariantTable]
    ablations: NotRequired[list[AblationTable]]


@dataclass(frozen=True)
class Band:
    """Accuracies a variant's mean is expected to fall in, inclusive, and the reason."""

    low: float
    high: float
    why: str

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the band (inclusive)."""
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Ablation:
    """A named departure from the card's protocol and its overrides."""

    name: str
    what: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Card:
    """A validated repro card (see the module docstring); ``raw`` is the file's table."""

    name: str
    path: Path
    raw: dict

    @property
    def title(self) -> str:
        """One line: the model and its paper."""
        return self.raw["title"]

    @property
    def model(self) -> str:
        """The member of the protocol whose accuracy the card measures."""
        return self.raw["model"]

    @property
    def metric(self) -> str:
        """``final``, ``best_checkpoint`` or ``final_train`` (see :mod:`neurosim.repro.measure`)."""
        return self.raw.get("metric", "final")

    @property
    def paper(self) -> dict:
        """Citation, DOI, where the number is printed, the number (an accuracy) and its protocol."""
        return self.raw["paper"]

    @property
    def differences(self) -> list[str]:
        """Every known difference between the card's protocol and the paper's."""
        return self.raw["differences"]

    @property
    def findings(self) -> list[str]:
        """What was found when the card was measured (why it missed its band, what an ablation
        showed), written into the card by whoever measured it."""
        return self.raw.get("findings", [])

    def variants(self) -> tuple[str, ...]:
        """The variants this card can run: ``card`` always, ``quick`` and ``paper_data`` if given."""
        return tuple(v for v in VARIANTS if v == "card" or v in self.raw)

    def band(self, variant: str) -> Band:
        """The band a variant's mean accuracy is expected in."""
        table = self.raw["band"] if variant == "card" else self.raw[variant]
        return Band(float(table["low"]), float(table["high"]), table["why"])

    def ablations(self) -> tuple[Ablation, ...]:
        """The card's named departures from its protocol, in file order."""
        return tuple(
            Ablation(a["name"], a["what"], tuple(a["overrides"])) for a in self.raw.get("ablations", [])
        )

    def comparison(
        self, variant: str = "card", ablation: Ablation | None = None, device: str | None = None
    ) -> ComparisonConfig:
        """The resolved comparison of a variant, optionally with an ablation's overrides and another
        device than the card's (``auto``, ``cpu`` or ``cuda``; it is part of the run's hash)."""
        if variant not in self.variants():
            raise UserError(choices_message(f"variant of card {self.name!r}", variant, self.variants()))
        raw = copy.deepcopy(self.raw["protocol"])
        suffix = "" if variant == "card" else f"_{variant}"
        raw.update(version=1, name=f"repro_{self.name}{suffix}", description=self.title)
        overrides = [] if variant == "card" else list(self.raw[variant]["overrides"])
        if ablation is not None:
            raw["name"] += f"_{ablation.name}"
            overrides += ablation.overrides
        if device is not None:
            overrides.append(f'device="{device}"')
        for assignment in overrides:
            apply_override(raw, assignment)
        return resolve(raw)


def load_card(path: str | Path) -> Card:
    """Read and validate a card file: its tables, and every variant and ablation it defines.
    Every error is one line that names the file."""
    path = Path(path)
    raw = load_raw(path, what="repro card")
    try:
        return _checked(Card(path.stem, path, raw))
    except UserError as error:
        raise UserError(f"repro card {path}: {error}") from None


def _checked(card: Card) -> Card:
    """``card`` if its tables, bands, variants and ablations are valid; else a UserError."""
    validate(table_adapter(CardTable), card.raw, "")
    if card.raw["version"] != CARD_VERSION:
        raise UserError(f"card format version {card.raw['version']!r}; this neurosim reads {CARD_VERSION}")
    if not 0.0 <= card.paper["published"] <= 1.0:
        raise UserError("paper.published is an accuracy in [0, 1] (82.9 % is 0.829)")
    names = [a.name for a in card.ablations()]
    if len(set(names)) != len(names):
        raise UserError(f"ablation names must differ, got {names}")
    for ablation in card.ablations():
        if any(o.partition("=")[0].strip() == "seeds" for o in ablation.overrides):
            raise UserError(f"ablation {ablation.name!r} may not change the seeds: it is paired seed by seed")
    for variant in card.variants():
        _check_band(card, variant)
        for ablation in (None, *(card.ablations() if variant == "card" else ())):
            config = card.comparison(variant, ablation)
            if card.model not in [m.name for m in config.members]:
                where = f"ablation {ablation.name!r}" if ablation else f"the {variant} protocol"
                raise UserError(f"model {card.model!r} is not a member of {where}")
    return card


def _check_band(card: Card, variant: str) -> None:
    band = card.band(variant)
    if not 0.0 <= band.low <= band.high <= 1.0:
        raise UserError(f"the {variant} band must satisfy 0 <= low <= high <= 1")


def card_dirs() -> list[Path]:
    """Folders searched for cards named without a path: ./repro, then the repository's."""
    repo = Path(__file__).resolve().parents[2] / "repro"
    here = Path.cwd() / "repro"
    return [here] if here.resolve() == repo.resolve() else [here, repo]


def list_cards() -> list[str]:
    """Names of the shipped cards."""
    return sorted({p.stem for d in card_dirs() if d.is_dir() for p in d.glob("*.toml")})


def find_card(name_or_path: str) -> Card:
    """A card by path, or a shipped card by name (``lenet5`` -> repro/lenet5.toml)."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return load_card(path)
    for directory in card_dirs():
        if (directory / f"{name_or_path}.toml").is_file():
            return load_card(directory / f"{name_or_path}.toml")
    raise UserError(choices_message("repro card", name_or_path, list_cards()))
