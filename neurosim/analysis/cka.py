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

from functools import cached_property

import torch

KINDS = ("linear", "debiased")


class _Layer:
    """One layer's centred activity ``X [n, p]`` (float64), with what every comparison of it
    reuses computed once: its linear kernel ``X X^T`` (only formed for a wide layer, where it costs
    ``n^2 p`` and everything after it ``n^2``) and its HSIC with itself."""

    def __init__(self, activity: torch.Tensor, n: int | None = None) -> None:
        matrix = activity.reshape(activity.shape[0], -1).to(torch.float64)
        if n is not None and matrix.shape[0] != n:
            raise ValueError(f"both layers need the same stimuli (rows): got {n} and {matrix.shape[0]}")
        if matrix.shape[0] < 4:
            raise ValueError(f"CKA needs at least 4 stimuli, got {matrix.shape[0]}")
        self.matrix = matrix - matrix.mean(0, keepdim=True)
        self._self_hsic: dict[str, torch.Tensor] = {}

    @cached_property
    def kernel(self) -> torch.Tensor:
        return self.matrix @ self.matrix.T

    def self_hsic(self, kind: str) -> torch.Tensor:
        if kind not in self._self_hsic:
            self._self_hsic[kind] = _HSIC[kind](self, self)
        return self._self_hsic[kind]


def _alignment(x: _Layer, y: _Layer) -> torch.Tensor:
    """``tr(K L) = ||Y^T X||_F^2`` for ``K = X X^T``, ``L = Y Y^T``, through the smaller matrix:
    ``[q, p]`` features when there are more stimuli than units, else the ``[n, n]`` kernels (wide
    convolutional layers)."""
    n, p, q = x.matrix.shape[0], x.matrix.shape[1], y.matrix.shape[1]
    if n * n < p * q:
        return (x.kernel * y.kernel).sum()
    return (y.matrix.T @ x.matrix).square().sum()


def _unbiased_hsic(layer_x: _Layer, layer_y: _Layer) -> torch.Tensor:
    """``HSIC_u`` of the linear kernels of ``x [n, p]`` and ``y [n, q]`` without forming them
    (unless a layer is wide: see :func:`_alignment`)."""
    x, y = layer_x.matrix, layer_y.matrix
    n = x.shape[0]
    rx, ry = (x * x).sum(1), (y * y).sum(1)  # kernel diagonals
    sx, sy = x.sum(0), y.sum(0)
    trace = _alignment(layer_x, layer_y) - (rx * ry).sum()
    ones_kx, ones_ly = sx.square().sum() - rx.sum(), sy.square().sum() - ry.sum()
    kx_ones, ly_ones = x @ sx - rx, y @ sy - ry  # [n]
    cross = (kx_ones * ly_ones).sum()
    return (trace + ones_kx * ones_ly / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


#: The HSIC estimator of each kind: biased (up to a constant that cancels in CKA) or unbiased.
_HSIC = {"linear": _alignment, "debiased": _unbiased_hsic}


def cka(x: torch.Tensor, y: torch.Tensor, kind: str = "linear") -> float:
    """CKA between activity ``x [n, ...]`` and ``y [n, ...]`` on the same ``n`` stimuli.

    Args:
        kind: ``linear`` (biased HSIC, Kornblith et al. 2019) or ``debiased`` (unbiased HSIC,
            Nguyen et al. 2021).

    Returns NaN when either layer's activity is constant over the stimuli.
    """
    a = _Layer(x)
    return _layer_cka(a, _Layer(y, a.matrix.shape[0]), kind)


def cka_matrix(
    xs: list[torch.Tensor], ys: list[torch.Tensor], kinds: tuple[str, ...] = ("linear",)
) -> dict[str, list[list[float]]]:
    """``{kind: [[cka(x, y, kind) for y in ys] for x in xs]}``, centring each layer and forming each
    wide layer's kernel once for all pairs and kinds (the numbers of :func:`cka`, a fraction of the
    work)."""
    a = [_Layer(x) for x in xs]
    b = [_Layer(y, a[0].matrix.shape[0]) for y in ys]
    return {kind: [[_layer_cka(x, y, kind) for y in b] for x in a] for kind in kinds}


def _layer_cka(a: _Layer, b: _Layer, kind: str) -> float:
    if kind not in KINDS:
        raise ValueError(f"unknown CKA kind {kind!r}; valid choices: {', '.join(KINDS)}")
    numerator = _HSIC[kind](a, b)
    denominator = (a.self_hsic(kind) * b.self_hsic(kind)).clamp_min(0.0).sqrt()
    if float(denominator) == 0.0:
        return float("nan")
    return float(numerator / denominator)
