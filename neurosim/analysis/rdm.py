"""Representational dissimilarity matrices (RDMs) and their comparison, through rsatoolbox.

N. Kriegeskorte, M. Mur & P. Bandettini, "Representational similarity analysis - connecting the
branches of systems neuroscience", Front. Syst. Neurosci. 2:4 (2008); the toolbox: rsatoolbox
(rsagroup, "RSA 3.0"), whose ``calc_rdm``, ``compare`` and pattern subsampling are used here
rather than re-implemented.

Conditions: ``per_class`` stimuli of each class (the first ones, in class order), so every RDM has
the same rows. For a layer's activity ``X [n, p]`` on those ``n`` conditions, the RDM holds the
correlation distance of every pair of patterns::

    d(i, j) = 1 - corr(x_i, x_j)         (0: same pattern up to offset and scale; 2: anti-correlated)

A pattern with no variance across units (a silent spiking layer) has no correlation with anything;
its distances are set to 1 (uncorrelated) rather than left undefined, so every layer's RDM has the
same entries. Two RDMs are compared by the Pearson correlation of their upper triangles
(``compare(..., method="corr")``): 1 for identical (or affinely related) RDMs.

Uncertainty: a bootstrap over conditions (:data:`N_BOOTSTRAP` resamples with replacement,
rsatoolbox's ``subsample_pattern``; pairs of copies of one condition are excluded from the
comparison), giving a 95 % percentile interval of each comparison. Resampling stimuli asks how
stable the similarity is for other images of the same kind (Nili et al. 2014, PLoS Comput. Biol.
10:e1003553; Schuett et al. 2023, eLife 12:e82566).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # rsatoolbox takes ~1 s to import: loaded by the functions that use it
    from rsatoolbox.rdm import RDMs

N_BOOTSTRAP = 100
PER_CLASS = 10
COMPARISON = "corr"


def condition_indices(labels: torch.Tensor, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of the first ``per_class`` stimuli of each class, grouped by class (fewer for a class
    with fewer stimuli)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)])


def layer_rdms(activity: dict[str, torch.Tensor], conditions: np.ndarray) -> RDMs:
    """One correlation-distance RDM per layer (``activity``: ``{layer: [n_stimuli, ...]}``) over the
    given conditions; ``rdm_descriptors["layer"]`` names them."""
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    rdms = []
    for layer, recorded in activity.items():
        patterns = (
            recorded[torch.as_tensor(conditions)].reshape(len(conditions), -1).to(torch.float64).numpy()
        )
        dataset = Dataset(
            patterns, descriptors={"layer": layer}, obs_descriptors={"index": np.arange(len(conditions))}
        )
        with np.errstate(invalid="ignore", divide="ignore"):  # silent patterns: handled below
            rdm = calc_rdm(dataset, method="correlation")
        rdm.dissimilarities = np.nan_to_num(rdm.dissimilarities, nan=1.0)
        rdms.append(rdm)
    combined = rdms[0]
    for rdm in rdms[1:]:
        combined.append(rdm)
    combined.rdm_descriptors["layer"] = list(activity)
    return combined


def rdm_similarity(
    first: RDMs, second: RDMs, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, low, high)``, each ``[layers of first, layers of second]``: the Pearson
    correlation of every pair of RDMs, and its 95 % bootstrap interval over conditions."""
    from rsatoolbox.rdm import compare

    estimate = compare(first, second, method=COMPARISON)
    generator = np.random.default_rng(seed)
    n = first.n_cond
    samples = []
    for _ in range(n_bootstrap):
        chosen = generator.integers(0, n, size=n)
        samples.append(
            compare(
                first.subsample_pattern("index", chosen),
                second.subsample_pattern("index", chosen),
                method=COMPARISON,
            )
        )
    low, high = np.percentile(np.stack(samples), [2.5, 97.5], axis=0)
    return estimate, low, high
