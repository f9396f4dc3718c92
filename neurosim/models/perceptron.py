"""Rosenblatt's perceptron: threshold units trained by the error-correction rule, no gradients.

Model (multiclass form; Rosenblatt 1958, Psychol. Rev. 65:386; Rosenblatt 1962, *Principles of
Neurodynamics*, the alpha-system error-correction procedure; multiclass form as in Duda & Hart
1973 / Collins 2002): one threshold unit per class with weights ``w_c`` and bias ``b_c``. The
response is ``s_c = w_c . x + b_c`` and the predicted class is ``argmax_c s_c`` (for two classes
this is exactly one threshold unit ``[ (w_1 - w_0) . x + (b_1 - b_0) > 0 ]``, Kesler's
construction). Weights start at zero.

Learning rule (per sample, in presentation order): with target ``y`` and prediction
``p = argmax_c s_c``, if ``p != y``::

    w_y <- w_y + eta x,   b_y <- b_y + eta
    w_p <- w_p - eta x,   b_p <- b_p - eta

and nothing changes on a correct response. From zero initial weights ``eta`` only scales the
weights, so it does not change any prediction; it is fixed at 1.

Averaged variant (``perceptron_averaged``; Freund & Schapire 1999, Machine Learning 37:277, the
averaged form of the voted perceptron): training is identical, but predictions at evaluation use
the mean of the weight vectors held after every training sample, which is far less sensitive to
the last few updates. This is not Rosenblatt's machine; it is named separately on purpose.

Convergence (Novikoff 1962): on data separable with margin gamma and inputs of norm <= R (bias
input included), the rule makes at most (R / gamma)^2 mistakes.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.models.base import NeurosimModel, PlanStep, flat_size
from neurosim.models.registry import MODELS, ModelCard


class PerceptronReadout(nn.Module):
    """A layer of C threshold units, ``s = x W^T + b``, trained by the perceptron rule.

    Shapes:
        input: ``[B, D]``; output: ``[B, C]`` responses (argmax is the response unit that wins).

    With ``averaged=True`` the layer also keeps the running sum of its weights after every
    training sample (float64 buffers, so 10^6 additions lose nothing that matters) and, in eval
    mode, responds with the averaged weights.
    """

    def __init__(self, n_inputs: int, n_classes: int, averaged: bool = False) -> None:
        super().__init__()
        # The rule writes its changes into .grad; autograd never needs to track these.
        self.weight = nn.Parameter(torch.zeros(n_classes, n_inputs), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(n_classes), requires_grad=False)
        self.averaged = averaged
        if averaged:
            self.register_buffer("weight_sum", torch.zeros(n_classes, n_inputs, dtype=torch.float64))
            self.register_buffer("bias_sum", torch.zeros(n_classes, dtype=torch.float64))
            self.register_buffer("n_summed", torch.zeros((), dtype=torch.int64))

    def effective_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weights used for responses: averaged ones in eval mode when averaging is on."""
        if self.averaged and not self.training and int(self.n_summed) > 0:
            count = self.n_summed.to(torch.float64)
            return (
                (self.weight_sum / count).to(self.weight.dtype),
                (self.bias_sum / count).to(self.bias.dtype),
            )
        return self.weight, self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.effective_weights()
        return torch.addmm(bias, x, weight.t())


class Perceptron(NeurosimModel):
    """Single-layer perceptron on the raw (flattened) input."""

    def __init__(self, n_inputs: int, n_classes: int, averaged: bool = False) -> None:
        super().__init__()
        self.readout = PerceptronReadout(n_inputs, n_classes, averaged=averaged)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(x.flatten(1))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("readout", self.readout, "perceptron"),)

    def probe_points(self) -> dict[str, nn.Module]:
        return {"readout": self.readout}

    def first_layer_weights(self) -> torch.Tensor:
        return self.readout.effective_weights()[0].detach()


@MODELS.register(
    "perceptron", ModelCard(family="perceptron", paper="Rosenblatt 1958, Psychol. Rev. 65:386", bio=True)
)
def perceptron(input_shape: tuple[int, ...], n_classes: int) -> Perceptron:
    """Rosenblatt's perceptron with the plain error-correction rule."""
    return Perceptron(flat_size(input_shape), n_classes, averaged=False)


@MODELS.register(
    "perceptron_averaged",
    ModelCard(family="perceptron", paper="Freund & Schapire 1999, Mach. Learn. 37:277", bio=True),
)
def perceptron_averaged(input_shape: tuple[int, ...], n_classes: int) -> Perceptron:
    """The averaged perceptron (Freund & Schapire 1999): same training, averaged weights to predict."""
    return Perceptron(flat_size(input_shape), n_classes, averaged=True)
