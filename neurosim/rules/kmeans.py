"""Mini-batch k-means (Sculley 2010) as a local rule, with k-means++ seeding.

D. Sculley, "Web-scale k-means clustering", WWW 2010, algorithm 1, in its batch form (as in
scikit-learn's ``MiniBatchKMeans``): every input of the batch joins its nearest prototype; then
each prototype with ``n_k`` new members moves to the running mean of everything it has taken::

    v_k += n_k;   c_k += (sum_{x in k} x - n_k c_k) / v_k

The first batch seeds the prototypes by k-means++ (D. Arthur & S. Vassilvitskii, "k-means++: the
advantages of careful seeding", SODA 2007): the first uniformly, each next one with probability
proportional to the squared distance to the nearest chosen so far (with replacement when the batch
has fewer inputs than prototypes). No labels are used. The objective is the batch's summed squared
distance to the nearest prototype (the k-means inertia).
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.base import write_delta
from neurosim.rules.layers import PROTOTYPES
from neurosim.rules.registry import RULES


def nearest_prototype(x: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """``[B]``: index of the prototype ``[K, D]`` nearest to each input ``[B, D]`` (squared Euclidean
    distance, without the ``|x|^2`` term every prototype shares)."""
    return ((prototypes * prototypes).sum(dim=1) - 2.0 * x @ prototypes.T).argmin(dim=1)


def kmeans_plus_plus(x: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` seeds ``[k, D]`` drawn from the rows of ``x`` by k-means++ (torch's global generator)."""
    chosen = [int(torch.randint(len(x), (1,)))]
    nearest = ((x - x[chosen[0]]) ** 2).sum(dim=1)
    for _ in range(k - 1):
        weights = nearest if float(nearest.sum()) > 0 else torch.ones_like(nearest)
        index = int(torch.multinomial(weights, 1))
        chosen.append(index)
        nearest = torch.minimum(nearest, ((x - x[index]) ** 2).sum(dim=1))
    return x[chosen].clone()


@RULES.register("minibatch_kmeans")
class MiniBatchKMeansRule:
    """See the module docstring; trains a :class:`~neurosim.models.kmeans.Prototypes` module."""

    name = "minibatch_kmeans"
    layer = PROTOTYPES
    objective = objective(
        "inertia", "squared distance of each training sample to its prototype after the step, per sample"
    )
    last_updates = 0

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        x = pre.flatten(1)
        prototypes, taken = module.weight.detach(), module.taken.detach()
        if float(taken.sum()) == 0:
            prototypes = kmeans_plus_plus(x, len(prototypes))
        nearest = nearest_prototype(x, prototypes)
        members = torch.bincount(nearest, minlength=len(prototypes)).to(x.dtype)
        sums = torch.zeros_like(prototypes).index_add_(0, nearest, x)
        new_taken = taken + members
        moved = prototypes + (sums - members.unsqueeze(1) * prototypes) / new_taken.clamp_min(1.0).unsqueeze(
            1
        )
        self.last_updates = x.numel()  # each sample moves its nearest prototype
        write_delta(module.weight, moved - module.weight.detach())
        write_delta(module.taken, members)
        return float(((x - moved[nearest]) ** 2).sum())
