"""Hebbian learning rules: Oja, Krotov & Hopfield 2019, and SoftHebb; dense and convolutional.

Every rule here is unsupervised: it sees a layer's input ``x`` and the layer's weights, never a
label. Each is a pure delta function over *rows* ``X [N, D]`` (samples, or image patches) and
weights ``W [K, D]`` (one row per unit), plus a thin rule object that reads the layer, applies the
learning rate and writes ``-dW`` into ``.grad`` (:func:`neurosim.rules.base.write_delta`).
One implementation serves dense and convolutional layers: :func:`rows_and_weights` turns a
convolution's input into its receptive-field patches (``F.unfold``), so a convolutional unit is a
dense unit whose weights are shared across positions, and the summed patch-wise change is the
change of the shared kernel.

**Oja (1982)**, J. Math. Biol. 15:267, the textbook Hebbian baseline. With ``y = W x``::

    dW_k = eta <y_k (x - y_k W_k)>_batch

Each unit converges to the unit-norm first principal component of zero-mean inputs.

**Krotov & Hopfield (2019)**, "Unsupervised learning by competing hidden units", PNAS 116:7723.
Currents use the Lebesgue p-metric, ``I_k = <W_k, x>_p = sum_i sign(W_ki) |W_ki|^(p-1) x_i``. For
each sample the unit with the largest current gets ``g = 1`` (Hebbian) and the unit ranked ``k``-th
gets ``g = -Delta`` (anti-Hebbian); all others ``g = 0``. Summed over the batch::

    dW_k = sum_n g_nk (x_n - I_nk W_k)  =  (g^T X)_k - (sum_n g_nk I_nk) W_k
    W <- W + eps * dW / max|dW|,   eps = eps0 (1 - epoch / n_epochs)

which drives every winning unit to ``||W_k||_p = 1``. The normalisation by the largest change and
the per-epoch linear annealing follow the authors' released code (DimaKrotov/Biological_Learning).

**SoftHebb** (Moraitis et al. 2022, Neuromorph. Comput. Eng. 2:044017; Journé et al. 2023,
"Hebbian deep learning without feedback", ICLR). Soft winner-take-all over the ``K`` units with
inverse temperature ``t_invert`` on currents ``u = W x``::

    y_nk = softmax_k(t_invert * u_nk)
    (anti-Hebbian variant, ``anti_hebbian=True``, the ICLR 2023 rule: y_nk <- -y_nk for every
     unit but the sample's winner argmax_k u_nk)
    dW_k = (y^T X)_k - (sum_n y_nk u_nk) W_k
    W_k <- W_k + eta_k dW_k / max|dW|,   eta_k = eta0 |(||W_k||_2 - 1)|^q

The norm-dependent learning rate (q = 0.5 in the paper's presets) lets units far from the unit
sphere move fast and settles them on it. Normalisation by the largest change follows the released
code (NeuromorphicComputing/SoftHebb, ``hebbconv.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.base import write_delta
from neurosim.rules.layers import WEIGHTED
from neurosim.rules.registry import RULES

#: Guard against division by zero when a batch leaves every weight unchanged.
TINY = 1e-30


def rows_and_weights(module: nn.Module, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The rule's view of a layer: input rows ``X [N, D]`` and weight rows ``W [K, D]``.

    Dense layer (``nn.Linear``): ``X = pre`` flattened to ``[B, D]``. Convolution (``nn.Conv2d``):
    ``X`` holds every receptive-field patch of every image, ``[B * L, C * kh * kw]``, for the
    layer's own stride, padding and dilation, and ``W`` is the kernel flattened the same way.
    """
    weight = module.weight
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise ValueError("Hebbian rules support convolutions with groups=1 only")
        padding = module.padding
        if module.padding_mode != "zeros":  # pad as the layer does (reflect, replicate, circular)
            (pad_h, pad_w) = module.padding
            pre = F.pad(pre, (pad_w, pad_w, pad_h, pad_h), mode=module.padding_mode)
            padding = 0
        patches = F.unfold(
            pre,
            module.kernel_size,
            dilation=module.dilation,
            padding=padding,
            stride=module.stride,
        )  # [B, D, L]
        return patches.transpose(1, 2).reshape(-1, patches.shape[1]), weight.reshape(weight.shape[0], -1)
    if isinstance(module, nn.Linear):
        return pre.reshape(pre.shape[0], -1), weight
    raise TypeError(f"Hebbian rules train nn.Linear or nn.Conv2d layers, not {type(module).__name__}")


def oja_delta(weight: torch.Tensor, x: torch.Tensor, eta: float) -> torch.Tensor:
    """Oja's rule averaged over the rows of ``x``.

    Shapes:
        weight ``[K, D]``, x ``[N, D]``; returns ``dW [K, D]``.
    """
    y = x @ weight.T  # [N, K]
    return eta * (y.T @ x - (y * y).sum(0).unsqueeze(1) * weight) / x.shape[0]


def krotov_currents(weight: torch.Tensor, x: torch.Tensor, p: float) -> torch.Tensor:
    """Currents in the Lebesgue p-metric, ``I = x (sign(W) |W|^(p-1))^T``, ``[N, K]``."""
    return x @ (weight.sign() * weight.abs().pow(p - 1)).T


def krotov_delta(weight: torch.Tensor, x: torch.Tensor, p: float, k: int, delta: float) -> torch.Tensor:
    """Krotov-Hopfield change, normalised so its largest entry has magnitude 1.

    Shapes:
        weight ``[K, D]``, x ``[N, D]``; returns ``dW [K, D]``.
    """
    if not 2 <= k <= weight.shape[0]:
        raise ValueError(f"rank k must be in [2, {weight.shape[0]}] (the number of units), got {k}")
    currents = krotov_currents(weight, x, p)  # [N, K]
    ranked = currents.topk(k, dim=1).indices  # [N, k], largest first
    g = torch.zeros_like(currents)
    rows = torch.arange(len(x), device=x.device)
    g[rows, ranked[:, 0]] = 1.0
    g[rows, ranked[:, k - 1]] = -delta
    change = g.T @ x - (g * currents).sum(0).unsqueeze(1) * weight
    return change / change.abs().max().clamp_min(TINY)


def softhebb_delta(
    weight: torch.Tensor, x: torch.Tensor, t_invert: float, anti_hebbian: bool
) -> torch.Tensor:
    """SoftHebb change (soft winner-take-all), normalised so its largest entry has magnitude 1.

    Shapes:
        weight ``[K, D]``, x ``[N, D]``; returns ``dW [K, D]``.
    """
    u = x @ weight.T  # [N, K]
    y = torch.softmax(t_invert * u, dim=1)
    if anti_hebbian:
        winners = F.one_hot(u.argmax(dim=1), weight.shape[0]).to(y.dtype)
        y = y * (2.0 * winners - 1.0)  # +y for the winner, -y for every other unit
    change = y.T @ x - (y * u).sum(0).unsqueeze(1) * weight
    return change / change.abs().max().clamp_min(TINY)


def softhebb_learning_rates(weight: torch.Tensor, eta: float, power: float) -> torch.Tensor:
    """Per-unit rates ``eta |(||W_k||_2 - 1)|^power``, ``[K, 1]`` (a unit on the sphere stops)."""
    return eta * ((weight.norm(dim=1, keepdim=True) - 1.0).abs() + 1e-10).pow(power)


def _apply(module: nn.Module, delta_rows: torch.Tensor) -> None:
    write_delta(module.weight, delta_rows.reshape(module.weight.shape))


#: The Hebbian rules follow no objective they could report (the curve stays at 0).
NO_OBJECTIVE = objective("none", "no objective: the Hebbian rule reports none (0)")


@RULES.register("oja")
class OjaRule:
    """Oja's rule on a dense or convolutional layer."""

    name = "oja"
    layer = WEIGHTED
    objective = NO_OBJECTIVE
    last_updates = 0

    def __init__(self, eta: float = 0.01) -> None:
        self.eta = eta

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        x, weight = rows_and_weights(module, pre)
        self.last_updates = x.shape[0] * weight.numel()  # every row changes every unit's weights
        _apply(module, oja_delta(weight, x, self.eta))
        return 0.0


@RULES.register("krotov_hopfield")
class KrotovHopfieldRule:
    """Krotov & Hopfield's competing hidden units, with their linearly annealed learning rate.

    Args:
        eps0: initial learning rate (annealed linearly to 0 over the unsupervised epochs).
        p: Lebesgue exponent of the weight metric.
        k: rank of the unit that receives the anti-Hebbian update.
        delta: strength of the anti-Hebbian update.
    """

    name = "krotov_hopfield"
    layer = WEIGHTED
    objective = NO_OBJECTIVE
    last_updates = 0

    def __init__(self, eps0: float = 0.04, p: float = 3.0, k: int = 7, delta: float = 0.4) -> None:
        self.eps0, self.p, self.k, self.delta = eps0, p, k, delta

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        x, weight = rows_and_weights(module, pre)
        eps = self.eps0 * (1.0 - progress)
        # Each row changes all the weights of its winner and of its k-th ranked unit.
        self.last_updates = x.shape[0] * (2 if self.delta else 1) * weight.shape[1]
        _apply(module, eps * krotov_delta(weight, x, self.p, self.k, self.delta))
        return 0.0


@RULES.register("softhebb")
class SoftHebbRule:
    """SoftHebb's soft winner-take-all Hebbian rule with its norm-dependent learning rate.

    Args:
        eta: learning-rate amplitude ``eta0``.
        t_invert: inverse temperature of the soft winner-take-all.
        anti_hebbian: the ICLR 2023 variant (non-winners get the anti-Hebbian update).
        lr_power: exponent ``q`` of the norm-dependent learning rate.
    """

    name = "softhebb"
    layer = WEIGHTED
    objective = NO_OBJECTIVE
    last_updates = 0

    def __init__(
        self, eta: float = 0.08, t_invert: float = 1.0, anti_hebbian: bool = True, lr_power: float = 0.5
    ) -> None:
        self.eta, self.t_invert, self.anti_hebbian, self.lr_power = eta, t_invert, anti_hebbian, lr_power

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        x, weight = rows_and_weights(module, pre)
        rates = softhebb_learning_rates(weight, self.eta, self.lr_power)
        self.last_updates = x.shape[0] * weight.numel()  # the soft winner-take-all leaves no unit out
        _apply(module, rates * softhebb_delta(weight, x, self.t_invert, self.anti_hebbian))
        return 0.0
