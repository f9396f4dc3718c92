"""Centred kernel alignment (CKA) between two layers' activity on the same stimuli, in torch.

S. Kornblith, M. Norouzi, H. Lee & G. Hinton, "Similarity of neural network representations
revisited", ICML 2019 (linear CKA); debiased CKA: T. Nguyen, M. Raghu & S. Kornblith, "Do wide
and deep networks learn the same things?", ICLR 2021, with the unbiased HSIC estimator of
L. Song et al., JMLR 13:1393 (2012).

For activity ``X [n, p]`` and ``Y [n, q]`` (rows: the same ``n`` stimuli; columns: units, in any
number and order) with linear kernels ``K = X X^T`` and ``L = Y Y^T``::

    CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))

**Linear CKA** uses the biased HSIC ``tr(K H L H) / (n - 1)^2`` (``H`` the centring matrix);
with column-centred ``X`` and ``Y`` it is the feature-space form

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

computed with ``[p, q]`` matrices when there are more stimuli than units and through the
``[n, n]`` kernels otherwise (whichever is smaller). It is 1 for identical activity and
invariant to orthogonal transforms and isotropic scaling of either side, but it is biased upwards
when ``n`` is not much larger than the number of units: two *independent* random layers score
well above 0.

**Debiased CKA** uses the unbiased estimator, with ``K~``, ``L~`` the kernels with zeroed
diagonals::

    HSIC_u(K, L) = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n - 1)(n - 2)) - 2 / (n - 2) 1^T K~ L~ 1]
                   / (n (n - 3))

For linear kernels each term is a feature-space expression (``s_x = sum_i x_i``,
``r_i = ||x_i||^2``): ``tr(K~ L~) = ||Y^T X||_F^2 - sum_i r_i r'_i``, ``1^T K~ 1 = ||s_x||^2 -
sum_i r_i``, and ``(K~ 1)_i = x_i . s_x - r_i``, so the cost is ``O(n p q)`` time and no
``[n, n]`` memory when ``n^2 >= p q``. Its expectation is 0 for independent layers (the estimate
can be slightly negative). Both need ``n >= 4``.

Shapes: ``x [n, ...]`` and ``y [n, ...]`` (flattened per stimulus); results are Python floats.
Computed in float64 on the inputs' device (CUDA when the activity is there).
"""

from __future__ import annotations

import torch

KINDS = ("linear", "debiased")


def _as_matrix(a: torch.Tensor, n: int | None = None) -> torch.Tensor:
    matrix = a.reshape(a.shape[0], -1).to(torch.float64)
    if n is not None and matrix.shape[0] != n:
        raise ValueError(f"both layers need the same stimuli (rows): got {n} and {matrix.shape[0]}")
    if matrix.shape[0] < 4:
        raise ValueError(f"CKA needs at least 4 stimuli, got {matrix.shape[0]}")
    return matrix - matrix.mean(0, keepdim=True)


class _Kernels:
    """Each centred activity matrix's linear kernel ``X X^T``, computed once per matrix: a layer
    map compares every layer with every other, and for a wide layer (``p >> n``) the kernel
    costs ``n^2 p`` while everything after it costs ``n^2``."""

    def __init__(self) -> None:
        self._kernels: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = id(x)
        if key not in self._kernels or self._kernels[key][0] is not x:
            self._kernels[key] = (x, x @ x.T)
        return self._kernels[key][1]


def _alignment(x: torch.Tensor, y: torch.Tensor, kernels: _Kernels | None = None) -> torch.Tensor:
    """``tr(K L) = ||Y^T X||_F^2`` for ``K = X X^T``, ``L = Y Y^T``, through the smaller matrix:
    ``[q, p]`` features when there are more stimuli than units, else the ``[n, n]`` kernels (wide
    convolutional layers; ``kernels`` reuses them across calls)."""
    n, p, q = x.shape[0], x.shape[1], y.shape[1]
    if n * n < p * q:
        kernel = kernels or _Kernels()
        return (kernel(x) * kernel(y)).sum()
    return (y.T @ x).square().sum()


def _unbiased_hsic(x: torch.Tensor, y: torch.Tensor, kernels: _Kernels | None = None) -> torch.Tensor:
    """``HSIC_u`` of the linear kernels of ``x [n, p]`` and ``y [n, q]`` without forming them
    (unless a layer is wide: see :func:`_alignment`)."""
    n = x.shape[0]
    rx, ry = (x * x).sum(1), (y * y).sum(1)  # kernel diagonals
    sx, sy = x.sum(0), y.sum(0)
    trace = _alignment(x, y, kernels) - (rx * ry).sum()
    ones_kx, ones_ly = sx.square().sum() - rx.sum(), sy.square().sum() - ry.sum()
    kx_ones, ly_ones = x @ sx - rx, y @ sy - ry  # [n]
    cross = (kx_ones * ly_ones).sum()
    return (trace + ones_kx * ones_ly / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


def cka(x: torch.Tensor, y: torch.Tensor, kind: str = "linear") -> float:
    """CKA between activity ``x [n, ...]`` and ``y [n, ...]`` on the same ``n`` stimuli.

    Args:
        kind: ``linear`` (biased HSIC, Kornblith et al. 2019) or ``debiased`` (unbiased HSIC,
            Nguyen et al. 2021).

    Returns NaN when either layer's activity is constant over the stimuli.
    """
    a = _as_matrix(x)
    return _centred_cka(a, _as_matrix(y, a.shape[0]), kind, _Kernels())


def cka_matrix(
    xs: list[torch.Tensor], ys: list[torch.Tensor], kinds: tuple[str, ...] = ("linear",)
) -> dict[str, list[list[float]]]:
    """``{kind: [[cka(x, y, kind) for y in ys] for x in xs]}``, centring each layer and forming each
    wide layer's kernel once for all pairs and kinds (the numbers of :func:`cka`, a fraction of the
    work)."""
    kernels = _Kernels()
    a = [_as_matrix(x) for x in xs]
    b = [_as_matrix(y, a[0].shape[0]) for y in ys]
    return {kind: [[_centred_cka(x, y, kind, kernels) for y in b] for x in a] for kind in kinds}


def _centred_cka(a: torch.Tensor, b: torch.Tensor, kind: str, kernels: _Kernels) -> float:
    if kind not in KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; valid choices: {', '.join(KINDS)}")
    if kind == "linear":
        numerator = _alignment(a, b, kernels)
        denominator = (_alignment(a, a, kernels) * _alignment(b, b, kernels)).sqrt()
    else:
        numerator = _unbiased_hsic(a, b, kernels)
        denominator = (_unbiased_hsic(a, a, kernels) * _unbiased_hsic(b, b, kernels)).clamp_min(0.0).sqrt()
    if float(denominator) == 0.0:
        return float("nan")
    return float(numerator / denominator)
