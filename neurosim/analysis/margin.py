"""Margin losses for adversarial attacks: how far a model's scores are from a wrong answer.

For scores ``z [B, C]`` (logits, or any class scores whose argmax is the prediction) and labels
``y [B]``, with ``z_y`` the true class's score and ``z_(k)`` the k-th largest score:

* **CW margin** (N. Carlini & D. Wagner, "Towards evaluating the robustness of neural networks",
  IEEE S&P 2017, their loss ``f_6`` without the confidence clamp)::

      m(z, y) = max_{k != y} z_k - z_y

  positive exactly when the image is misclassified (ties aside); an attack ascends it. Unlike
  cross-entropy it does not saturate once the true class's probability is near 0 or 1, and it
  is defined for scores that are not logits (spike counts, label-assignment means).
* **DLR** (difference of logits ratio; F. Croce & M. Hein, "Reliable evaluation of adversarial
  robustness with an ensemble of diverse parameter-free attacks", ICML 2020, eq. 5), the margin
  divided by the spread of the top scores, so that it does not change when every score is scaled
  by a positive factor::

      DLR(z, y) = -(z_y - max_{k != y} z_k) / (z_(1) - z_(3) + 1e-12)

  (needs ``C >= 3``). An attack ascends it, as the CW margin.

Both return one value per image ``[B]`` (sum or average them for a batch's gradient: the images
are independent).
"""

from __future__ import annotations

import torch

#: Keeps DLR finite when the three largest scores tie (Croce & Hein's constant).
DLR_FLOOR = 1e-12


def _best_other(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``max_{k != y} z_k`` per image ``[B]``: the true class masked to -inf before the max."""
    masked = scores.masked_fill(torch.nn.functional.one_hot(labels, scores.shape[1]).bool(), float("-inf"))
    return masked.max(dim=1).values


def cw_margin(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``max_{k != y} z_k - z_y`` per image ``[B]`` (module docstring); > 0 where misclassified."""
    true = scores.gather(1, labels[:, None]).squeeze(1)
    return _best_other(scores, labels) - true


def dlr_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Croce & Hein's DLR per image ``[B]`` (module docstring); needs at least 3 classes."""
    if scores.shape[1] < 3:
        raise ValueError(f"DLR needs at least 3 classes, got {scores.shape[1]}")
    top = scores.sort(dim=1, descending=True).values
    return cw_margin(scores, labels) / (top[:, 0] - top[:, 2] + DLR_FLOOR)
