"""How sparse and how high-dimensional a layer's code is: population and lifetime sparseness and
the effective dimensionality of its activity.

For non-negative activity ``R [n, N]`` (rows: ``n`` stimuli; columns: ``N`` units; firing rates,
spike counts or rectified activations):

**Fraction active**, the fraction of units with a response above a threshold::

    population: a_s = (1 / N) #{u : R_su > threshold}, averaged over stimuli s
    lifetime:   a_u = (1 / n) #{s : R_su > threshold}, averaged over units u

It is not the fraction of cortical neurons active at once (Lennie 2003, Curr. Biol. 13:493:
fewer than 1 %, an energy-budget bound): units are not neurons, a model's response has no time
base and any response above the threshold counts, however small. The sources, and why the two
cannot be compared: ``docs/references/cortex_sparseness.md``.

**Treves-Rolls / Vinje-Gallant sparseness** (W. E. Vinje & J. L. Gallant, Science 287:1273,
2000), for the responses ``r_1..r_M`` of one stimulus across units (population) or of one unit
across stimuli (lifetime)::

    S = (1 - (sum_j r_j / M)^2 / (sum_j r_j^2 / M)) / (1 - 1 / M)

0 when every response is equal, 1 when a single one is non-zero; rows with no activity at all are
left out of the mean (S is undefined there).

**Effective dimensionality**, the participation ratio of the covariance eigenvalues
``lambda_i`` of the activity across stimuli (P. Gao et al., "A theory of multineuronal
dimensionality...", bioRxiv 2017; Litwin-Kumar et al., Neuron 93:1153, 2017)::

    D_PR = (sum_i lambda_i)^2 / sum_i lambda_i^2

between 1 (one direction carries all variance) and ``min(n - 1, N)`` (isotropic). Computed from
the ``[n, n]`` or ``[N, N]`` Gram matrix, whichever is smaller (the non-zero eigenvalues agree).
"""

from __future__ import annotations

import torch


def _matrix(activity: torch.Tensor) -> torch.Tensor:
    r = activity.reshape(activity.shape[0], -1).to(torch.float64)
    if r.shape[0] < 2 or r.shape[1] < 2:
        raise ValueError(f"need at least 2 stimuli and 2 units, got activity of shape {tuple(r.shape)}")
    return r


def fraction_active(activity: torch.Tensor, threshold: float = 0.0) -> dict[str, float]:
    """Mean fraction of units above ``threshold`` per stimulus (``population``) and mean fraction
    of stimuli that drive each unit above it (``lifetime``). Both equal the overall fraction of
    active entries; they are reported separately because their spreads differ."""
    active = (_matrix(activity) > threshold).to(torch.float64)
    return {"population": float(active.mean(1).mean()), "lifetime": float(active.mean(0).mean())}


def _treves_rolls(rows: torch.Tensor) -> torch.Tensor:
    """Vinje-Gallant sparseness of each row of ``rows [k, M]`` (NaN for all-zero rows)."""
    m = rows.shape[1]
    mean_square = rows.square().mean(1)
    ratio = rows.mean(1).square() / mean_square
    s = (1.0 - ratio) / (1.0 - 1.0 / m)
    return torch.where(mean_square > 0, s, torch.full_like(s, float("nan")))


def vinje_gallant_sparseness(activity: torch.Tensor) -> dict[str, float]:
    """Mean Vinje-Gallant sparseness across stimuli (``population``) and across units
    (``lifetime``); activity must be non-negative."""
    r = _matrix(activity)
    if bool((r < 0).any()):
        raise ValueError("sparseness is defined for non-negative activity (rates, counts, rectified units)")
    return {
        "population": float(_treves_rolls(r).nanmean()),
        "lifetime": float(_treves_rolls(r.T).nanmean()),
    }


def participation_ratio(activity: torch.Tensor) -> float:
    """Effective dimensionality ``(sum lambda)^2 / sum lambda^2`` of the activity's covariance."""
    r = _matrix(activity)
    centred = r - r.mean(0, keepdim=True)
    gram = centred @ centred.T if r.shape[0] <= r.shape[1] else centred.T @ centred
    eigenvalues = torch.linalg.eigvalsh(gram).clamp_min(0.0)
    total = eigenvalues.sum()
    if float(total) == 0.0:
        return float("nan")
    return float(total.square() / eigenvalues.square().sum())
