"""The perceptron error-correction rule (Rosenblatt 1958/1962), per sample and in sequence.

For responses ``s = W x + b`` (``W``: ``[C, D]``), target ``y`` and prediction ``p = argmax s``::

    dW = eta (e_y - e_p) x^T,   db = eta (e_y - e_p)     if p != y,   else 0

where ``e_k`` is the k-th unit vector. The rule is defined per sample: each presentation sees the
weights left by the previous one. :func:`perceptron_sequential` therefore walks a batch in order
and returns the summed change, so any batch size gives exactly the batch-size-1 trajectory (up to
float rounding of the final addition); a batch of one is the single-sample rule.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.rules.base import ONLINE_ERROR_RATE, write_delta
from neurosim.rules.layers import PERCEPTRON_UNITS
from neurosim.rules.registry import RULES


def perceptron_sequential(
    weight: torch.Tensor,
    bias: torch.Tensor,
    x: torch.Tensor,
    targets: torch.Tensor,
    eta: float = 1.0,
    weight_sum: torch.Tensor | None = None,
    bias_sum: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Present a batch one sample at a time; return the total change, the mistake count and the
    plasticity updates (each mistake changes two units' bias and their weights from non-zero inputs).

    If ``weight_sum``/``bias_sum`` are given (averaged perceptron), the weights held after each
    sample are added to them in place.

    Shapes:
        weight ``[C, D]``, bias ``[C]``, x ``[B, D]``, targets ``[B]``.
    """
    w = weight.detach().clone()
    b = bias.detach().clone()
    mistakes, updates = 0, 0
    target_list = targets.tolist()
    for i, target in enumerate(target_list):
        sample = x[i]
        prediction = int(torch.argmax(torch.addmv(b, w, sample)))
        if prediction != target:
            mistakes += 1
            updates += 2 * (int(torch.count_nonzero(sample)) + 1)
            w[target] += eta * sample
            w[prediction] -= eta * sample
            b[target] += eta
            b[prediction] -= eta
        if weight_sum is not None:
            weight_sum += w
            bias_sum += b
    return w - weight, b - bias, mistakes, updates


@RULES.register("perceptron")
class PerceptronRule:
    """Error-correction rule for a :class:`~neurosim.models.perceptron.PerceptronReadout`."""

    name = "perceptron"
    layer = PERCEPTRON_UNITS
    objective = ONLINE_ERROR_RATE

    def __init__(self, eta: float = 1.0) -> None:
        self.eta, self.last_updates = eta, 0

    @torch.no_grad()
    def write_grads(
        self, module: nn.Module, pre: torch.Tensor, target: torch.Tensor, progress: float = 0.0
    ) -> float:
        averaged = getattr(module, "averaged", False)
        d_weight, d_bias, mistakes, self.last_updates = perceptron_sequential(
            module.weight,
            module.bias,
            pre,
            target,
            self.eta,
            weight_sum=module.weight_sum if averaged else None,
            bias_sum=module.bias_sum if averaged else None,
        )
        if averaged:
            module.n_summed += len(target)
        write_delta(module.weight, d_weight)
        write_delta(module.bias, d_bias)
        return float(mistakes)
