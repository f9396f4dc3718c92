"""Hardware profiles: the price of each counted event on one kind of hardware, with its source.

The profiles live in ``profiles.json`` beside this module (data, not code; see its ``about``).
Prices are in picojoules per event, for these terms:

* compute: ``mac`` (multiply-accumulate with a real-valued input), ``ac`` (accumulate: a synaptic
  event from a spike), ``lif_update`` (one spiking neuron, one step), ``activation`` (one output
  value of a non-spiking layer: bias and non-linearity) and ``spike`` (one spike emitted);
* memory (:data:`MEMORY_TERMS`): ``weight_read``, ``input_read``, ``state_read``, ``state_write``,
  ``output_write`` and ``weight_write`` (training only), priced by the profile's memory model:

  - ``none``: compute-only; memory is not modelled (a memory-aware estimate is undefined);
  - ``included``: inside the per-op figures (all-in chips, co-located memory), priced 0;
  - ``lemaire_fit``: ``E_access(n) = min(slope * n * bits + intercept, dram_per_32_bits * bits / 32)``
    pJ per access of a memory of ``n`` elements of ``bits`` bits (Lemaire et al., ICONIP 2022,
    arXiv:2210.13107; the line is fitted to on-chip SRAM up to 1 MB, so a larger memory costs at
    most an off-chip DRAM access);
  - ``per_access``: ``value`` pJ per access whatever the memory's size.

  A ``lemaire_fit`` memory may store its values word-packed (``pack``: values per word of
  ``word_bits`` bits, e.g. 8 int8 values per 64-bit word): a word holding ``pack`` consecutive
  values is read or written at once, so one value costs ``E_access(n / pack, word_bits) / pack``.
  This is the best case of packing, for reads and writes of consecutive values (a spike's fan-out
  row of weights, a layer's neuron states, a dense layer's weights in order).

A compute term a profile lists under ``included`` is inside another figure (TrueNorth's 26 pJ is
all-in), priced 0; a term neither priced nor included is *unpriced*, and :mod:`neurosim.energy.pricing`
names it rather than counting it as 0. ``prices_from`` reuses another profile's compute prices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from neurosim.errors import UserError

COMPUTE_TERMS = ("mac", "ac", "lif_update", "activation", "spike")
OP_TERMS = ("add", "mul", "compare", "division", "exp")
#: Every term a profile may price: the energy terms, the neuron arithmetic, the inactive update.
PRICE_TERMS = (*COMPUTE_TERMS, *OP_TERMS, "lif_update_inactive")
MEMORY_TERMS = ("weight_read", "input_read", "state_read", "state_write", "output_write", "weight_write")
MEMORY_MODELS = ("none", "included", "lemaire_fit", "per_access")
EVIDENCE = {
    "M": "measured on silicon",
    "S": "pre-silicon simulation",
    "E": "published model or estimate",
    "D": "derived from the cited inputs",
    "V": "vendor claim",
    "A": "stated assumption, no source (varied in the sensitivity table)",
}


@dataclass(frozen=True)
class Price:
    value: float  # pJ per event
    evidence: str
    source: str


@dataclass(frozen=True)
class HardwareProfile:
    id: str
    title: str
    device: str
    precision: str
    scope: str
    prices: dict[str, Price]
    memory: dict
    included: tuple[str, ...] = ()
    notes: str = ""

    @property
    def memory_model(self) -> str:
        return self.memory["model"]

    def access_energy(self, elements: float) -> float:
        """pJ for one read or write of a memory of ``elements`` words (0 when included; NaN when
        the profile does not model memory)."""
        model = self.memory_model
        if model == "none":
            return float("nan")
        if model == "included":
            return 0.0
        if model == "per_access":
            return float(self.memory["value"])
        pack = self.memory.get("pack", 1)
        bits = self.memory.get("word_bits", self.memory["bits"]) if pack > 1 else self.memory["bits"]
        fit = self.memory["slope"] * (elements / pack) * bits + self.memory["intercept"]
        return min(fit, self.memory.get("dram_per_32_bits", float("inf")) * bits / 32) / pack

    @property
    def prices_operations(self) -> bool:
        """Whether a neuron update can be priced from its counted arithmetic (every op priced)."""
        return all(term in self.prices for term in OP_TERMS)

    def evidence(self) -> str:
        """The evidence grades of its prices and memory model, e.g. ``"D, E"``."""
        grades = {price.evidence for price in self.prices.values()}
        if "evidence" in self.memory:
            grades.add(self.memory["evidence"])
        return ", ".join(sorted(grades))


def _price(profile_id: str, term: str, entry: dict) -> Price:
    if term not in PRICE_TERMS:
        raise UserError(f"profile {profile_id!r}: unknown term {term!r}; terms: {', '.join(PRICE_TERMS)}")
    missing = {"value", "evidence", "source"} - set(entry)
    if missing:
        raise UserError(f"profile {profile_id!r}, price {term!r}: missing {', '.join(sorted(missing))}")
    if entry["evidence"] not in EVIDENCE:
        raise UserError(
            f"profile {profile_id!r}, price {term!r}: evidence must be one of {', '.join(EVIDENCE)}"
        )
    if not entry["source"].strip() or float(entry["value"]) < 0:
        raise UserError(f"profile {profile_id!r}, price {term!r}: needs a source and a value >= 0")
    return Price(float(entry["value"]), entry["evidence"], entry["source"])


def parse_profiles(document: dict) -> dict[str, HardwareProfile]:
    """Profiles by id from the parsed JSON document; a broken entry names its profile and key."""
    raw = {entry["id"]: entry for entry in document["profiles"]}
    profiles = {}
    for profile_id, entry in raw.items():
        prices_entry = entry.get("prices")
        if "prices_from" in entry:
            if entry["prices_from"] not in raw:
                raise UserError(
                    f"profile {profile_id!r}: prices_from names unknown profile {entry['prices_from']!r}"
                )
            prices_entry = raw[entry["prices_from"]]["prices"]
        if not prices_entry:
            raise UserError(f"profile {profile_id!r}: no prices")
        memory = entry.get("memory", {})
        if memory.get("model") not in MEMORY_MODELS:
            raise UserError(f"profile {profile_id!r}: memory.model must be one of {', '.join(MEMORY_MODELS)}")
        needed = {"lemaire_fit": {"slope", "intercept", "bits", "source"}, "per_access": {"value", "source"}}
        missing = needed.get(memory["model"], set()) - set(memory)
        if missing:
            raise UserError(f"profile {profile_id!r}: memory needs {', '.join(sorted(missing))}")
        if memory.get("pack", 1) > 1 and "word_bits" not in memory:
            raise UserError(f"profile {profile_id!r}: a packed memory needs word_bits")
        included = tuple(entry.get("included", ()))
        unknown = set(included) - set(COMPUTE_TERMS)
        if unknown:
            raise UserError(f"profile {profile_id!r}: included names unknown terms {sorted(unknown)}")
        profiles[profile_id] = HardwareProfile(
            id=profile_id,
            title=entry["title"],
            device=entry["device"],
            precision=entry["precision"],
            scope=entry["scope"],
            prices={term: _price(profile_id, term, p) for term, p in prices_entry.items()},
            memory=memory,
            included=included,
            notes=entry.get("notes", ""),
        )
    return profiles


@cache
def hardware_profiles() -> dict[str, HardwareProfile]:
    """The shipped profiles, by id, in file order."""
    text = resources.files("neurosim.energy").joinpath("profiles.json").read_text()
    return parse_profiles(json.loads(text))


def hardware_profile(profile_id: str) -> HardwareProfile:
    profiles = hardware_profiles()
    if profile_id not in profiles:
        raise UserError(f"unknown hardware profile {profile_id!r}; profiles: {', '.join(profiles)}")
    return profiles[profile_id]
