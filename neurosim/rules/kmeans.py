"""Mini-batch k-means (Sculley 2010) as a local rule, with k-means++ seeding.

D. Sculley, "Web-scale k-means clustering", WWW 2010, algorithm 1, in its batch form (as in
scikit-learn's ``MiniBatchKMeans``): every input of the batch joins its nearest prototype; then
each prototype with ``n_k`` new members moves to the running mean of everything it has taken::

    v_k += n_k;   c_k += (sum_{x in k} x - n_k c_k) / v_k

Seeding is k-means++ (D. Arthur & S. Vassilvitskii, "k-means++: the advantages of careful
seeding", SODA 2007), continued over batches (:func:`seed_empty`): a prototype that has taken
nothing yet is *empty*; each batch fills empty prototypes with its inputs, the very first seed
uniformly, each next one with probability proportional to its squared distance to the nearest
prototype seeded so far (so an input is never chosen twice, nor one equal to a seeded prototype).
An empty prototype takes no input. A batch smaller than the layer (10 images for 2000 units)
therefore seeds as many prototypes as it can and the next batches seed the rest, each from
distinct inputs; seeding all ``K`` from one small batch with replacement, as before stop 36, gave
at most ``B`` distinct prototypes and left the copies of each but the first unable to win an
input (``argmin`` takes the first of equal distances). scikit-learn's ``MiniBatchKMeans`` seeds
from ``3 K`` samples for the same reason. With at least ``K`` distinct inputs in the first batch
the seeds are those of plain k-means++ (the same draws). No labels are used. The objective is the
batch's summed squared distance to the nearest prototype (the k-means inertia).
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.base import write_delta
from neurosim.rules.layers import PROTOTYPES
from neurosim.rules.registry import RULES


def nearest_prototype(
    x: torch.Tensor, prototypes: torch.Tensor, usable: torch.Tensor | None = None
) -> torch.Tensor:
    """``[B]``: index of the prototype ``[K, D]`` nearest to each input ``[B, D]`` (squared Euclidean
    distance, without the ``|x|^2`` term every prototype shares), among ``usable`` ``[K]`` (bool)
    prototypes when given."""
    distance = (prototypes * prototypes).sum(dim=1) - 2.0 * x @ prototypes.T
    if usable is not None:
        distance = distance.masked_fill(~usable, float("inf"))
    return distance.argmin(dim=1)


#: A squared distance below this share of the input's squared norm counts as 0 in the seeding.
DUPLICATE = 1e-5


def seed_empty(
    x: torch.Tensor, prototypes: torch.Tensor, taken: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means++ continued (module docstring): ``(prototypes [K, D] with the empty ones this batch
    can seed filled from the rows of x [B, D], usable [K])``, ``usable`` false for prototypes still
    empty. Draws from torch's global generator; returns the inputs unchanged when none is empty."""
    usable = taken > 0
    empty = (~usable).nonzero().flatten().tolist()
    if not empty:
        return prototypes, usable
    prototypes, usable = prototypes.clone(), usable.clone()
    if usable.any():
        nearest = torch.cdist(x, prototypes[usable]).pow(2).min(dim=1).values
        # cdist's matrix-product formula leaves ~1e-7 |x|^2 for an input equal to a prototype;
        # below DUPLICATE it is the same point, and k-means++ must not draw it
        nearest = nearest.masked_fill(nearest <= DUPLICATE * (x * x).sum(dim=1), 0.0)
    else:  # the very first seed: uniformly
        first = int(torch.randint(len(x), (1,)))
        prototypes[empty[0]], usable[empty[0]] = x[first], True
        nearest, empty = ((x - x[first]) ** 2).sum(dim=1), empty[1:]
    for slot in empty:
        if float(nearest.sum()) <= 0:
            break  # every input of the batch is already a prototype
        index = int(torch.multinomial(nearest, 1))
        prototypes[slot], usable[slot] = x[index], True
        nearest = torch.minimum(nearest, ((x - x[index]) ** 2).sum(dim=1))
    return prototypes, usable


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
        prototypes, usable = seed_empty(x, prototypes, taken)
        nearest = nearest_prototype(x, prototypes, usable)
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
