"""Whether a local rule learnt: cheap diagnostics of convergence, stored with every fit.

A local rule can fail silently: with too few updates its units never leave their random start,
yet a linear readout on random features still scores well above chance, so the comparison with a
backprop twin measures the failure, not the rule. Each model with a local rule states what its
rule converges to and checks it at the end of a fit (:meth:`NeurosimModel.convergence
<neurosim.models.base.NeurosimModel.convergence>`):

- **Norm-seeking rules** (Krotov & Hopfield 2019; SoftHebb, Moraitis et al. 2022): every unit that
  learns is driven to a fixed norm ``||W_k||_p = 1`` (``p`` = 3 for Krotov's rule, 2 for
  SoftHebb's), from a random start far from it (Krotov: ``N(0, 1)`` entries, ``||W_k||_3`` about
  ``(D E|z|^3)^(1/3)`` = 10.8 for ``D = 784``; SoftHebb: the released code's radius 25 or 35). A
  unit has **converged** when its norm is within a factor :data:`NORM_FACTOR` of the fixed
  point; the layer **learnt** when at least :data:`MIN_CONVERGED` of its units did. Also stored:
  the median norm and the fraction of units that win (respond most to) at least one of a sample
  of training images.
- **Units that must respond** (Diehl & Cook 2015; prototypes labelled by assignment): a neuron
  that never fires never learns (STDP potentiates on its own spikes), so the layer learnt when at
  least :data:`MIN_RESPONDING` of its units responded to some labelled training image.
- **Generated cells** (Fukushima's Neocognitron): a layer learnt when it generated at least two
  cell-planes (one plane cannot discriminate).

Thresholds are stated here and in ``docs/convergence.md`` with the values measured on shipped
comparisons; a fit that did not learn is logged, stored (``learnt = 0``) and named in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch

#: A unit has converged when its norm is within this factor of the rule's fixed point (1).
NORM_FACTOR = 1.5
#: A norm-seeking layer learnt when at least this fraction of its units converged.
MIN_CONVERGED = 0.5
#: A population labelled by assignment learnt when at least this fraction of its units responded.
MIN_RESPONDING = 0.5


@dataclass(frozen=True)
class Convergence:
    """A fit's diagnostic: whether its local rule learnt, one line saying why, and the numbers."""

    learnt: bool
    summary: str
    measures: dict[str, float] = field(default_factory=dict)

    def as_attrs(self) -> dict[str, str | int]:
        """Attributes of the fit's Dataset (``learnt``: 1 learnt, 0 did not)."""
        return {
            "learnt": int(self.learnt),
            "convergence": self.summary,
            "convergence_measures": json.dumps(self.measures, sort_keys=True),
        }


#: The attributes of a fit whose model has no local rule to check.
NOT_CHECKED: dict[str, str | int] = {"learnt": -1, "convergence": "", "convergence_measures": "{}"}


def combined(parts: dict[str, Convergence]) -> Convergence:
    """One diagnostic of several layers: learnt when every layer learnt; measures prefixed."""
    measures = {f"{layer}.{key}": v for layer, part in parts.items() for key, v in part.measures.items()}
    summary = "; ".join(f"{layer}: {part.summary}" for layer, part in parts.items())
    return Convergence(all(part.learnt for part in parts.values()), summary, measures)


@torch.no_grad()
def unit_norms(weight: torch.Tensor, p: float) -> torch.Tensor:
    """``||W_k||_p`` of every unit ``k``: ``weight`` ``[K, ...]`` (flattened per unit) -> ``[K]``."""
    return weight.detach().flatten(1).float().norm(p=p, dim=1)


@torch.no_grad()
def winning_fraction(currents: torch.Tensor) -> float:
    """Fraction of the ``K`` units that are the strongest response (argmax) of at least one of
    the ``B`` inputs, from ``currents`` ``[B, K]``."""
    winners = currents.argmax(dim=1).unique()
    return len(winners) / currents.shape[1]


def norm_convergence(weight: torch.Tensor, p: float, currents: torch.Tensor | None = None) -> Convergence:
    """The diagnostic of a norm-seeking rule whose fixed point is ``||W_k||_p = 1``.

    ``currents`` ``[B, K]`` (the units' responses to a sample of training inputs) adds the
    fraction of units that win an input.
    """
    norms = unit_norms(weight, p)
    converged = ((norms <= NORM_FACTOR) & (norms >= 1 / NORM_FACTOR)).float().mean().item()
    median = norms.median().item()
    measures = {"median_norm": median, "converged_fraction": converged}
    summary = (
        f"median {p:g}-norm {median:.3g} (fixed point 1); {converged:.0%} of {len(norms)} units "
        f"within x{NORM_FACTOR:g} of it"
    )
    if currents is not None:
        measures["winning_fraction"] = winning_fraction(currents)
        summary += f"; {measures['winning_fraction']:.0%} win one of {len(currents)} training images"
    learnt = converged >= MIN_CONVERGED
    verdict = "" if learnt else f": did not learn (needs {MIN_CONVERGED:.0%} within x{NORM_FACTOR:g})"
    return Convergence(learnt, summary + verdict, measures)


def responding_convergence(assigned: torch.Tensor) -> Convergence:
    """The diagnostic of a population labelled by assignment: ``assigned`` ``[N]`` holds each
    unit's class, or -1 for a unit that never responded to a labelled training image."""
    responding = int((assigned >= 0).sum()) / len(assigned)
    learnt = responding >= MIN_RESPONDING
    summary = f"{responding:.0%} of {len(assigned)} units respond to a training image"
    if not learnt:
        summary += f": did not learn (needs {MIN_RESPONDING:.0%})"
    return Convergence(learnt, summary, {"responding_fraction": responding})


def generation_convergence(planes: dict[str, int], needed: dict[str, int]) -> Convergence:
    """The diagnostic of layers that learn by generating cells: ``planes`` generated per layer,
    ``needed`` the least that can discriminate."""
    short = [layer for layer, n in planes.items() if n < needed[layer]]
    summary = ", ".join(f"{layer} {n} generated" for layer, n in planes.items())
    if short:
        summary += f": did not learn ({', '.join(f'{layer} needs {needed[layer]}' for layer in short)})"
    return Convergence(not short, summary, {f"{layer}_generated": float(n) for layer, n in planes.items()})
