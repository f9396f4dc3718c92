"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), the backprop CNN the Neocognitron inspired.

Reference: Y. LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE
86:2278-2324 (1998), section II.B. Layers for a 32x32 input (a 28x28 image padded by 2)::

    C1  6@28x28   5x5 convolution                              156 parameters
    S2  6@14x14   2x2 sum x trainable coefficient + bias        12
    C3 16@10x10   5x5 convolution over the S2 maps of Table I  1516 (60 of the 96 map pairs)
    S4 16@5x5     as S2                                         32
    C5 120@1x1    5x5 convolution over all of S4               48120
    F6 84         dense                                        10164
    output 10     dense                                         850  (60850 in all)

Every layer up to F6 passes its weighted sum through the paper's squashing function
``f(a) = 1.7159 tanh(2 a / 3)``; weights start uniform in ``+-2.4 / fan_in`` (Appendix A).

Deviation, stated: the paper's output layer is 10 Euclidean RBF units with fixed 7x12 bitmap codes
trained with its MAP criterion; here it is a linear layer with softmax cross-entropy (the same
number of trainable values as the RBF centres would have, plus 10 biases), as in every modern
reimplementation. Inputs of another size are resized (bilinear) to ``image_size`` and padded by
``margin``, exactly as the Neocognitron does, so the pair sees the same retina.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep, Probe
from neurosim.models.registry import MODELS, ModelCard
from neurosim.models.retina import fit_to_retina
from neurosim.options import ImageSize, Padding
from neurosim.probes import current

#: LeCun et al. 1998, Table I: the S2 maps each C3 map reads.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


#: The layers whose weighted sums pass through :func:`squash`, input side first.
SQUASHED = ("c1", "s2", "c3", "s4", "c5", "f6")


def squash(a: torch.Tensor) -> torch.Tensor:
    """LeCun's sigmoid ``1.7159 tanh(2 a / 3)``."""
    return 1.7159 * torch.tanh(2.0 * a / 3.0)


class Subsampling(nn.Module):
    """S2/S4: each map's 2x2 sums times a trainable coefficient plus a trainable bias."""

    def __init__(self, maps: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(torch.empty(maps))
        self.bias = nn.Parameter(torch.empty(maps))
        bound = 2.4 / 4  # fan-in of 4 inputs
        nn.init.uniform_(self.coefficient, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sums = 4.0 * F.avg_pool2d(x, 2)
        return sums * self.coefficient[:, None, None] + self.bias[:, None, None]

    def convolutions(self, x: torch.Tensor) -> list[tuple]:
        """For operation counts: each map's 2x2 sum (a ones kernel, stride 2; the coefficient multiply
        per output is not a synapse)."""
        maps = x.shape[1]
        ones = x.new_ones(maps, 1, 2, 2)
        return [(x, ones, 2, 0, maps, x.shape[0] * maps * (x.shape[2] // 2) * (x.shape[3] // 2))]


class PartialConvolution(nn.Module):
    """C3: a 5x5 convolution whose output map ``j`` reads only the input maps ``table[j]``; only the
    connected kernels are parameters (``weight`` ``[connections, 5, 5]``)."""

    def __init__(self, table: tuple[tuple[int, ...], ...], in_maps: int, kernel_size: int = 5) -> None:
        super().__init__()
        pairs = [(out, source) for out, sources in enumerate(table) for source in sources]
        self.register_buffer("pairs", torch.tensor(pairs, dtype=torch.int64))
        self.shape = (len(table), in_maps, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(len(table)))
        fan_in = torch.tensor([len(table[out]) * kernel_size**2 for out, _ in pairs], dtype=torch.float32)
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0).mul_((2.4 / fan_in)[:, None, None])
            nn.init.uniform_(self.bias, -2.4 / (3 * kernel_size**2), 2.4 / (3 * kernel_size**2))

    def kernel(self) -> torch.Tensor:
        """The full ``[out, in, k, k]`` kernel, zero where the table has no connection."""
        full = self.weight.new_zeros(self.shape)
        return full.index_put((self.pairs[:, 0], self.pairs[:, 1]), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel(), self.bias)

    def convolutions(self, x: torch.Tensor) -> list[tuple]:
        """For operation counts: the full kernel (absent connections are zero, so they do no work)."""
        kernel = self.kernel().detach()
        size = [s - kernel.shape[-1] + 1 for s in x.shape[2:]]
        return [(x, kernel, 1, 0, 1, x.shape[0] * kernel.shape[0] * size[0] * size[1])]


def _lecun_uniform(layer: nn.Module) -> nn.Module:
    """Weights and biases uniform in ``+-2.4 / fan_in`` (LeCun et al. 1998, Appendix A)."""
    fan_in = layer.weight[0].numel()
    nn.init.uniform_(layer.weight, -2.4 / fan_in, 2.4 / fan_in)
    nn.init.uniform_(layer.bias, -2.4 / fan_in, 2.4 / fan_in)
    return layer


@MODELS.register(
    "lenet5",
    ModelCard(
        family="conventional",
        paper="LeCun et al. 1998, Proc. IEEE 86:2278",
        bio=False,
        image_input=True,
        channels=1,
        input_note="resized to image_size x image_size and padded by margin onto a 32x32 retina",
        receptive_field="kernel",
    ),
)
class LeNet5(NeurosimModel):
    """C1 -> S2 -> C3 -> S4 -> C5 -> F6 -> output, every weight learnt by backprop (model ``lenet5``)."""

    def __init__(
        self, input_shape: tuple[int, ...], n_classes: int, image_size: ImageSize = 28, margin: Padding = 2
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] != 1:
            raise UserError(
                f"LeNet-5 needs one-channel image inputs [1, H, W], got input shape {input_shape}"
            )
        self.image_size, self.margin = int(image_size), int(margin)
        if self.image_size + 2 * self.margin != 32:
            raise UserError(
                "LeNet-5 reads a 32x32 retina: image_size + 2 margin must be 32, "
                f"got {image_size} + 2 x {margin}"
            )
        self.c1 = _lecun_uniform(nn.Conv2d(1, 6, 5))
        self.s2 = Subsampling(6)
        self.c3 = PartialConvolution(C3_TABLE, 6)
        self.s4 = Subsampling(16)
        self.c5 = _lecun_uniform(nn.Conv2d(16, 120, 5))
        self.f6 = _lecun_uniform(nn.Linear(120, 84))
        self.output = _lecun_uniform(nn.Linear(84, n_classes))
        # Probe points of each layer's squashed output (the squashing function is not a module).
        self.squashed = nn.ModuleDict({name: Probe() for name in SQUASHED})

    def retina(self, x: torch.Tensor) -> torch.Tensor:
        """U0: the image on the retina (:func:`~neurosim.models.retina.fit_to_retina`)."""
        return fit_to_retina(x, self.image_size, self.margin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squashed = self.squashed
        h = squashed["c1"](squash(self.c1(self.retina(x))))
        h = squashed["s2"](squash(self.s2(h)))
        h = squashed["c3"](squash(self.c3(h)))
        h = squashed["s4"](squash(self.s4(h)))
        h = squashed["c5"](squash(self.c5(h))).flatten(1)
        return self.output(squashed["f6"](squash(self.f6(h))))

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (PlanStep("all", self, "backprop"),)

    def probe_points(self) -> dict[str, nn.Module]:
        """Per layer ``<layer>.pre`` (its weighted sum) and ``<layer>`` (squashed), C1 to F6; then
        ``output``."""
        points: dict[str, nn.Module] = {}
        for name in SQUASHED:
            points |= {current(name): getattr(self, name), name: self.squashed[name]}
        return points | {"output": self.output}

    def first_layer_weights(self) -> torch.Tensor:
        return self.c1.weight.detach().flatten(1)
