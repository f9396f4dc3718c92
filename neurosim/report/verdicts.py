"""The plain-language sentence under each row of the report's summary: which member is better on
what, with what certainty, read off the row's cells (:class:`~neurosim.analysis.study.SummaryCell`).

A cell whose ``better`` names a member becomes a clause "more <what>" (bio better) or "less
<what>" (twin better) with its effect, the first one naming both members: "hebbian_krotov is less
accurate than krotov_backprop (-1.2 [-2.0, -0.4] points); more robust to Gaussian noise (+0.05
[+0.02, +0.08])." Cells without a verdict whose measure has a better direction (``what`` given)
are named together: "No decision on energy per inference and noise robustness: the intervals
include no difference." (their numbers are in the cells above). A measure without a better
direction (``what`` empty, e.g. a similarity between the two members) is stated as "<column>:
<difference>." The sentence ends with the confidence level and the number of seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from neurosim.analysis.study import SummaryCell


def _clause(cell: SummaryCell, than: str = "") -> str:
    """``more <what> [than <twin>] (<difference>)`` (``less`` when the twin is better)."""
    than = f" than {than}" if than else ""
    return f"{'more' if cell.better == 'bio' else 'less'} {cell.what}{than} ({cell.difference})"


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def row_sentence(bio: str, twin: str, cells: Sequence[SummaryCell], seeds: int) -> str:
    """The sentence of one summary row (module docstring); ``seeds``: seeds of the run."""
    decided = [c for c in cells if c.better in ("bio", "twin") and c.what]
    undecided = [c.column for c in cells if c.better not in ("bio", "twin") and c.what]
    sentences = []
    if decided:
        first, *rest = decided
        sentences.append("; ".join([f"{bio} is {_clause(first, twin)}", *map(_clause, rest)]) + ".")
    if undecided:
        between = "" if decided else f" between {bio} and {twin}"
        include = "the interval includes" if len(undecided) == 1 else "the intervals include"
        sentences.append(f"No decision{between} on {_listed(undecided)}: {include} no difference.")
    sentences += [f"{c.column[0].upper()}{c.column[1:]}: {c.difference}." for c in cells if not c.what]
    if not sentences:
        return ""
    return " ".join([*sentences, f"95 % CIs, {seeds} seed{'s' * (seeds != 1)}."])
