"""ZCA whitening of a convolution's input patches, folded into the convolution (Coates & Ng).

A. Coates, H. Lee & A. Y. Ng, "An analysis of single-layer networks in unsupervised feature
learning", AISTATS 2011, sec. 3.1 and fig. 3: k-means on raw patches learns mostly blurred,
low-frequency centroids, because neighbouring pixels are strongly correlated; whitening the patches
first (ZCA) makes the centroids sharp, localised edges, and was the largest single gain they found.

From the first ``n >= SAMPLES_PER_DIM * D`` patches ``p in R^D`` the rule sees (centred per patch
first when the rule centres), the mean ``m`` and covariance ``S = E[(p - m)(p - m)^T]`` are
estimated (float64 sums), and, with ``S = U diag(l) U^T``::

    W = U diag((l + eps)^(-1/2)) U^T,      eps = eps_ratio * mean(l)

(``eps_ratio = 0.1``: Coates et al.'s ``eps = 0.1`` was for patches normalised to unit variance,
whose mean eigenvalue is ~1; a ratio keeps it scale-free.) k-means then runs on ``z = W (p - m)``.

A centroid ``c`` (a unit vector in the whitened space) answers a patch as::

    c . W (P p - m) = k . p + b,      k = P W c,   b = -(W c) . m

with ``P`` the centring projector ``I - 1 1^T / D`` (or ``I`` without centring; ``W`` is
symmetric). So the layer stays a convolution, now with a bias: :meth:`PatchWhitening.fold`.

Shapes: patches ``[N, D]``; centroids ``[K, D]``; kernels ``[K, D]``; bias ``[K]``.
"""

from __future__ import annotations

import torch
from torch import nn

#: Patches per dimension of a patch before the covariance is trusted (then k-means starts).
SAMPLES_PER_DIM = 10
#: ``eps`` as a share of the covariance's mean eigenvalue (module docstring).
EPS_RATIO = 0.1


class PatchWhitening(nn.Module):
    """The ZCA statistics of one convolution's patches (module docstring), kept as buffers so that
    a stored model and a resumed fit carry them."""

    count: torch.Tensor
    total: torch.Tensor
    outer: torch.Tensor
    mean: torch.Tensor
    matrix: torch.Tensor

    def __init__(self, size: int, eps_ratio: float = EPS_RATIO) -> None:
        super().__init__()
        if size < 1 or eps_ratio <= 0:
            raise ValueError(f"a whitening needs size >= 1 and eps_ratio > 0, got {size}, {eps_ratio}")
        self.size, self.eps_ratio = size, eps_ratio
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("outer", torch.zeros(size, size, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("matrix", torch.eye(size))

    @property
    def ready(self) -> bool:
        """Whether enough patches were seen and ``mean`` and ``matrix`` hold the whitening."""
        return float(self.count) >= SAMPLES_PER_DIM * self.size

    @torch.no_grad()
    def observe(self, patches: torch.Tensor) -> None:
        """Add ``patches`` ``[N, D]`` to the sums; once :attr:`ready`, compute the whitening."""
        if patches.shape[1] != self.size:
            raise ValueError(f"patches of {patches.shape[1]} values for a whitening of {self.size}")
        x = patches.to(torch.float64)
        self.count += len(x)
        self.total += x.sum(dim=0)
        self.outer += x.T @ x
        if self.ready:
            mean = self.total / self.count
            covariance = self.outer / self.count - torch.outer(mean, mean)
            values, vectors = torch.linalg.eigh((covariance + covariance.T) / 2)
            values = values.clamp_min(0.0)
            eps = self.eps_ratio * float(values.mean()) + 1e-12
            matrix = vectors @ torch.diag((values + eps).rsqrt()) @ vectors.T
            self.mean.copy_(mean.to(self.mean.dtype))
            self.matrix.copy_(matrix.to(self.matrix.dtype))

    def whiten(self, patches: torch.Tensor) -> torch.Tensor:
        """``W (p - m)`` for each row of ``patches`` ``[N, D]``."""
        return (patches - self.mean) @ self.matrix

    def fold(self, centroids: torch.Tensor, centred: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernels ``[K, D]`` and bias ``[K]`` that answer a raw patch as ``centroids`` answer its
        whitened version (module docstring)."""
        raw = centroids @ self.matrix  # rows: (W c)^T, W symmetric
        bias = -(raw @ self.mean)
        kernels = raw - raw.mean(dim=1, keepdim=True) if centred else raw
        return kernels, bias
