"""Which numbers of a run are not results: diverged fits, local rules that did not learn, and
members stuck at chance.

A fit that diverged (see :mod:`neurosim.training.divergence`) is a failed optimisation, not a
measurement of its model. A fit whose local rule did not learn by its convergence diagnostic (see
:mod:`neurosim.models.convergence`: units short of their fixed point) is measured, but its
accuracy is that of features the rule did not finish shaping, so a difference from its twin measures that
failure, not the rule. A member at chance level beside a twin far above it probably never learnt
either. Reports show all three as warnings at the top and mark the members in their tables;
diverged members are left out of paired tests.

Chance band: ``p0 = n_max / n`` is the accuracy of always answering the test set's most frequent
class (``n`` test images, ``n_max`` of that class); a classifier at chance is below
``p0 + 1.96 sqrt(p0 (1 - p0) / n)`` with probability 0.975 (normal approximation to the
binomial). A member is flagged when its mean accuracy over seeds is within that band while a
member of the same pair is at least :data:`FAR_ABOVE` above the band.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

#: How far above the chance band a pair partner must be for a member at chance to be flagged.
FAR_ABOVE = 0.1


def diverged_seeds(results: xr.Dataset, member: str) -> list[int]:
    """Seeds of ``member`` whose fit diverged (none for results stored before divergence existed)."""
    if "diverged" not in results:
        return []
    flags = results.diverged.sel(model=member).values.astype(bool)
    return [int(s) for s, flag in zip(results.seed.values, flags, strict=True) if flag]


def describe_divergence(results: xr.Dataset, member: str) -> str:
    """``diverged in seeds 0 (step 12), 2 (step 40) of 3``, or ``""`` if it never did."""
    seeds = diverged_seeds(results, member)
    if not seeds:
        return ""
    if "diverged_step" in results:
        steps = results.diverged_step.sel(model=member)
        where = ", ".join(f"{s} (step {int(steps.sel(seed=s))})" for s in seeds)
    else:
        where = ", ".join(map(str, seeds))
    return f"diverged in seed{'s' if len(seeds) > 1 else ''} {where} of {results.sizes['seed']}"


def unlearnt_seeds(results: xr.Dataset, member: str) -> list[int]:
    """Seeds of ``member`` whose local rule did not learn (none for results stored before the
    diagnostic existed, or for a member with nothing to check)."""
    if "learnt" not in results:
        return []
    flags = results.learnt.sel(model=member).values
    return [int(s) for s, flag in zip(results.seed.values, flags, strict=True) if flag == 0]


def describe_unlearnt(results: xr.Dataset, member: str) -> str:
    """``did not learn in seeds 0, 2 of 3 (seed 0: <diagnostic>)``, or ``""``."""
    seeds = unlearnt_seeds(results, member)
    if not seeds:
        return ""
    why = ""
    if "convergence" in results:
        why = f" (seed {seeds[0]}: {results.convergence.sel(model=member, seed=seeds[0]).item()})"
    listed = ", ".join(map(str, seeds))
    return f"did not learn in seed{'s' if len(seeds) > 1 else ''} {listed} of {results.sizes['seed']}{why}"


def chance_band(results: xr.Dataset) -> tuple[float, float, int]:
    """``(p0, upper, n)``: majority-class accuracy, upper end of the chance band, test images."""
    per_class = results.confusion.sum("class_pred").max(("model", "seed")).values.astype(float)
    n = float(per_class.sum())
    if n == 0:
        return math.nan, math.nan, 0
    p0 = float(per_class.max() / n)
    return p0, p0 + 1.96 * math.sqrt(p0 * (1 - p0) / n), int(n)


def mean_accuracy(results: xr.Dataset, member: str) -> float:
    """Mean final test accuracy over the member's seeds that did not diverge (NaN if none)."""
    values = results.final_test_accuracy.sel(model=member).values
    keep = ~np.isin(results.seed.values, diverged_seeds(results, member))
    kept = values[keep]
    return float(np.mean(kept)) if kept.size else math.nan


def validity_warnings(results: xr.Dataset, pair_members: dict[str, list[str]]) -> list[str]:
    """One sentence per diverged member and per member at chance beside a partner far above."""
    warnings = []
    for member in [str(m) for m in results.model.values]:
        divergence = describe_divergence(results, member)
        if divergence:
            warnings.append(
                f"{member} {divergence}: a failed optimisation, not a result. Its tables show no "
                "accuracy, and it is left out of paired tests."
            )
        unlearnt = describe_unlearnt(results, member)
        if unlearnt:
            warnings.append(
                f"{member} {unlearnt}: its units did not reach what its rule converges to, so its "
                "accuracy is that of features the rule did not finish shaping, and a difference from "
                "its twin measures that, not the rule."
            )
    p0, upper, n = chance_band(results)
    if n == 0:
        return warnings
    for members in pair_members.values():
        accuracies = {m: mean_accuracy(results, m) for m in members}
        for member, accuracy in accuracies.items():
            others = {m: a for m, a in accuracies.items() if m != member and not math.isnan(a)}
            if not others:
                continue
            partner = max(others, key=others.__getitem__)
            best = others[partner]
            if accuracy <= upper and best >= upper + FAR_ABOVE:
                warnings.append(
                    f"{member} is at chance level ({accuracy:.4f}; chance band up to {upper:.4f} for "
                    f"{n} test images, majority class {p0:.4f}) while {partner} reaches {best:.4f}: "
                    f"{member} probably failed to learn, and their difference measures that failure."
                )
    return warnings
