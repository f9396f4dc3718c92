"""Mini-batch k-means on image patches: convolution kernels learnt without labels (Coates & Ng).

A. Coates, H. Lee & A. Y. Ng, "An analysis of single-layer networks in unsupervised feature
learning", AISTATS 2011: the kernels of a convolution layer are the centroids of k-means run on
patches of its input. Here the patches are those the layer itself convolves, so the rule sees
exactly what a Hebbian rule on the same layer sees. For an input ``[B, C, H, W]`` and a ``k x k``
kernel, every valid position gives a patch ``p in R^(C k k)`` (no padding: the layer's reflect
border would repeat interior pixels); at most ``patches_per_image`` positions per image are drawn
(uniformly, torch's global generator, so a seeded fit is reproducible), and the patches go through
the update of :class:`~neurosim.rules.kmeans.MiniBatchKMeansRule` (Sculley 2010, seeded by
k-means++ on the first batch)::

    v_k += n_k;   c_k += (sum_{p in k} p - n_k c_k) / v_k

With ``centre_patches`` every patch has its own mean subtracted first, ``p - mean(p) 1`` (the
first step of Coates et al.'s patch normalisation; their division by the patch's spread is not
applied: it is not a convolution). With ``whiten_patches`` the patches are then ZCA-whitened
(:mod:`neurosim.rules.patch_whitening`: the first patches estimate the whitening, k-means starts
once it is trusted, and the layer folds it into its kernels and a bias). Centred, the centroids
are zero-mean, and a zero-mean kernel ``c`` applied to a raw patch gives exactly its response to
the centred patch, ``c . p = c . (p - mean(p) 1)`` since ``c . 1 = 0``: the layer needs no
change to see what the rule saw (whitened, the folded kernels are centred to the same end).
Without centring, the centroids of raw patches mostly encode brightness (a background or a
uniform stroke), not edges.

No labels are used. The objective is the summed squared distance of the batch's patches to their
nearest centroid after the step (the k-means inertia); while a whitening is being estimated, the
squared distance of the batch's patches to their mean (the inertia of one centroid).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.rules.base import write_delta
from neurosim.rules.kmeans import MiniBatchKMeansRule, nearest_prototype, seed_empty
from neurosim.rules.layers import PROTOTYPES
from neurosim.rules.registry import RULES


def image_patches(x: torch.Tensor, kernel: tuple[int, int], per_image: int) -> torch.Tensor:
    """``[B * min(L, per_image), C k k]``: up to ``per_image`` of the ``L`` valid ``k x k`` patches
    of each image of ``x`` ``[B, C, H, W]`` (all of them when ``L <= per_image``)."""
    patches = F.unfold(x, kernel).transpose(1, 2)  # [B, L, C k k]
    positions = patches.shape[1]
    if positions > per_image:
        chosen = torch.randint(positions, (len(x), per_image)).to(x.device)
        patches = patches.gather(1, chosen.unsqueeze(2).expand(-1, -1, patches.shape[2]))
    return patches.reshape(-1, patches.shape[2])


def kmeans_step(x: torch.Tensor, prototypes: torch.Tensor, taken: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One mini-batch k-means step on ``x`` ``[N, D]``: ``(moved prototypes [K, D], members
    [K], inertia after the step)``; empty prototypes are seeded by k-means++ continued over batches
    (:func:`~neurosim.rules.kmeans.seed_empty`)."""
    prototypes, usable = seed_empty(x, prototypes, taken)
    nearest = nearest_prototype(x, prototypes, usable)
    members = torch.bincount(nearest, minlength=len(prototypes)).to(x.dtype)
    sums = torch.zeros_like(prototypes).index_add_(0, nearest, x)
    counts = (taken + members).clamp_min(1.0).unsqueeze(1)
    moved = prototypes + (sums - members.unsqueeze(1) * prototypes) / counts
    return moved, members, ((x - moved[nearest]) ** 2).sum()


@RULES.register("patch_kmeans")
class PatchKMeansRule:
    """See the module docstring; trains a convolution with ``weight [K, C, k, k]`` and ``taken [K]``."""

    name = "patch_kmeans"
    layer = PROTOTYPES
    objective = MiniBatchKMeansRule.objective
    last_updates = 0

    def __init__(
        self, patches_per_image: int = 64, centre_patches: bool = False, whiten_patches: bool = False
    ) -> None:
        if patches_per_image < 1:
            raise ValueError(f"patches_per_image must be >= 1, got {patches_per_image}")
        self.patches_per_image = patches_per_image
        self.centre_patches = centre_patches
        self.whiten_patches = whiten_patches

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        kernels, taken = cast(nn.Parameter, module.weight), cast(nn.Parameter, module.taken)
        weight = kernels.detach()
        size = (int(weight.shape[2]), int(weight.shape[3]))
        x = image_patches(pre, size, self.patches_per_image)
        if self.centre_patches:
            x = x - x.mean(dim=1, keepdim=True)
        if self.whiten_patches:
            whitening = getattr(module, "whitening", None)
            if whitening is None:
                raise ValueError("whiten_patches needs a layer with a whitening (PrototypeConv2d, whiten)")
            if not whitening.ready:
                whitening.observe(x)
                self.last_updates = 0
                return float(((x - x.mean(dim=0)) ** 2).sum())
            x = whitening.whiten(x)
        moved, members, inertia = kmeans_step(x, weight.flatten(1), taken.detach())
        self.last_updates = x.numel()  # each patch moves its nearest centroid
        write_delta(kernels, moved.view_as(weight) - weight)
        write_delta(taken, members)
        return float(inertia)
