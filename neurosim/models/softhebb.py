"""SoftHebb networks (soft winner-take-all Hebbian layers + a linear readout) and their twins.

References: A. Journé, H. Garcia Rodriguez, Q. Guo & T. Moraitis, "Hebbian deep learning without
feedback", ICLR 2023; T. Moraitis et al., "SoftHebb: Bayesian inference in unsupervised Hebbian
soft winner-take-all networks", Neuromorph. Comput. Eng. 2:044017 (2022); code and presets:
NeuromorphicComputing/SoftHebb (``presets.json``). The rule is
:class:`~neurosim.rules.hebbian.SoftHebbRule`; labels enter only at the linear readout.

``softhebb_mlp`` (preset ``2SoftMlpMNIST``): ``v = x / ||x||`` (so currents are cosines and the
temperature means the same for every image), ``u = W v`` with 2000 units (no bias), SoftHebb
without the anti-Hebbian term (eta = 0.045, rate exponent q = 0.2); the readout sees
``K * softmax(5 u)`` (the preset's ``softmax_5`` activation, scaled by the number of units ``K``
so that features are O(1) for the optimiser) and is a linear layer by cross-entropy.

The preset's t_invert = 12 acts on currents of raw pixel inputs (MNIST's mean input norm is about
9.3), so on unit-length inputs the same sharpness is t_invert ~ 110; the default is 100. With 12 on
cosines the competition is so soft that every unit drifts to the same average image (on held-out
Fashion-MNIST training images, 1 Hebbian epoch + 10 readout epochs: 0.57 at 12, 0.87 at 100).
The number of Hebbian *steps* matters as much as the images seen: every step's change is
normalised by its largest entry, so 600 steps of 100 images leave the units at norms 5-8 with their
random initial directions, while 6000 steps of 10 images (the released code's small batches,
``training.unsupervised_batch_size``) bring them to the unit sphere as input prototypes. The readout's
``softmax(feature_t_invert * u)`` then acts on cosines, so it needs a larger ``feature_t_invert``
than the preset's 5 (see ``comparisons/fashion_mnist_hebbian.toml`` for the validation probes).

``softhebb_cnn`` (the first two blocks of the paper's CIFAR-10 network, which fit 28x28 inputs:
28 -> 14 -> 7)::

    BN -> conv c1 5x5 (reflect pad 2) -> Triangle^0.7 -> max-pool 4/2/1
    -> BN -> conv c2 3x3 (reflect pad 1) -> Triangle^1.4 -> max-pool 4/2/1 -> dropout 0.5 -> linear

BN is batch normalisation without learnt parameters; ``Triangle^q(u) = relu(u - mean_c u)^q``
(mean over channels at each position). Block 1: c1 = 96, t_invert = 1, eta = 0.08; block 2:
c2 = 384, t_invert = 0.65, eta = 0.005; both with the anti-Hebbian term and the norm-dependent rate
(q = 0.5). The blocks learn one after the other ("successive" training in the released code),
each for ``unsupervised_epochs`` (the paper: one epoch). Hebbian weights start as in the released
code (:func:`radius_init`): every unit's norm is about ``init_radius`` (25 for the convolutions,
``N(0, r^2 / fan_in)`` after batch normalisation; 35 for the MLP, uniform and positive), and the
norm-dependent rate brings them to the unit sphere. With norms of 25 the currents are large, so the
soft winner-take-all starts nearly hard and softens as the units settle.
As for the MLP, the number of Hebbian steps decides what the kernels become in one epoch: small
steps (``training.unsupervised_batch_size = 2`` in ``comparisons/fashion_mnist_softhebb_cnn.toml``)
give oriented edges, bars and blobs where large ones leave the kernels near their random start
(the measurements: ``docs/model_choices.md``).

Twins (``*_backprop``): the same layers trained end to end by backprop from PyTorch's default
initialisation, with ReLU in place of Triangle (a fractional power has an unbounded derivative at
0), as in the SoftHebb repository's own backprop baselines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.errors import UserError
from neurosim.models.base import NeurosimModel, PlanStep, Probe, flat_size
from neurosim.models.convergence import Convergence, combined, norm_convergence
from neurosim.models.hebbian_dense import DenseHebbianNetwork
from neurosim.models.registry import MODELS, ModelCard
from neurosim.options import DropoutRate, PositiveFloat, Width
from neurosim.probes import current


def triangle(u: torch.Tensor, power: float) -> torch.Tensor:
    """``relu(u - mean over channels)^power`` (channels on dim 1); the mean is not differentiated."""
    return F.relu(u - u.detach().mean(dim=1, keepdim=True)).pow(power)


def radius_init(layer: nn.Module, radius: float, positive: bool) -> None:
    """The released code's Hebbian initialisation: every unit's weight vector has norm ~ ``radius``.

    ``positive``: uniform on ``[0, a]`` with ``a = sqrt(3 r^2 / D)`` (its choice for layers fed raw,
    non-negative inputs); otherwise ``N(0, r^2 / D)`` (its choice after batch normalisation). ``D`` is
    the fan-in. Either way ``E ||w||^2 = r^2``; the norm-dependent rate then brings each unit from
    ``r`` to the unit sphere, fast at first (``eta |r - 1|^q``).
    """
    fan_in = layer.weight[0].numel()
    if positive:
        nn.init.uniform_(layer.weight, 0.0, math.sqrt(3.0 * radius**2 / fan_in))
    else:
        nn.init.normal_(layer.weight, 0.0, radius / math.sqrt(fan_in))


class SoftHebbMLP(DenseHebbianNetwork):
    """Input (unit length, or raw) -> soft winner-take-all layer -> ``K softmax(t u)`` (or
    ``softmax(t u)`` with ``scale_features = False``) -> linear readout."""

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        n_hidden: int,
        feature_t_invert: float,
        rule: dict | None,
        init_radius: float = 35.0,
        inputs: str = "unit_length",
        scale_features: bool = True,
    ) -> None:
        super().__init__(n_inputs, n_classes, n_hidden, "softhebb", rule, True, inputs)
        self.feature_t_invert, self.scale_features = feature_t_invert, scale_features
        if rule is not None:
            radius_init(self.hidden, init_radius, positive=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.hidden(self.hidden_input(x))
        features = torch.softmax(self.feature_t_invert * u, dim=1)
        return self.readout(self.features_probe(u.shape[1] * features if self.scale_features else features))


class SoftHebbCNN(NeurosimModel):
    """Two SoftHebb convolution blocks and a linear readout (see the module docstring)."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_classes: int,
        channels: tuple[int, int],
        triangle_powers: tuple[float, float],
        dropout: float,
        rules: tuple[dict, dict] | None,
        init_radius: float = 25.0,
    ) -> None:
        super().__init__()
        in_channels, height, width = input_shape
        self.norm1 = nn.BatchNorm2d(in_channels, affine=False)
        # Reflect padding, as in the released code's convolution defaults.
        self.conv1 = nn.Conv2d(in_channels, channels[0], 5, padding=2, bias=False, padding_mode="reflect")
        self.norm2 = nn.BatchNorm2d(channels[0], affine=False)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, padding=1, bias=False, padding_mode="reflect")
        self.pool = nn.MaxPool2d(4, 2, 1)
        self.dropout = nn.Dropout(dropout)
        size = [height, width]
        for _ in range(2):
            size = [(s + 2 - 4) // 2 + 1 for s in size]
        self.readout = nn.Linear(channels[1] * size[0] * size[1], n_classes)
        # Probe points of each block's output (after its Triangle or ReLU and its pooling).
        self.block_outputs = nn.ModuleList([Probe(), Probe()])
        self.triangle_powers, self.rules = triangle_powers, rules
        if rules is not None:
            radius_init(self.conv1, init_radius, positive=False)
            radius_init(self.conv2, init_radius, positive=False)

    def _activation(self, u: torch.Tensor, block: int) -> torch.Tensor:
        return triangle(u, self.triangle_powers[block]) if self.rules is not None else F.relu(u)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Both convolution blocks, flattened: ``[B, C, H, W] -> [B, c2 * h * w]``."""
        h = self.block_outputs[0](self.pool(self._activation(self.conv1(self.norm1(x)), 0)))
        return self.block_outputs[1](self.pool(self._activation(self.conv2(self.norm2(h)), 1))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.dropout(self.features(x)))

    def frozen_split(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Module] | None:
        if self.rules is None:  # the twin trains every layer
            return None
        return self.features, nn.Sequential(self.dropout, self.readout)

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """Both blocks' kernel norms against SoftHebb's fixed point ``||W_k||_2 = 1``."""
        if self.rules is None:
            return None
        layers = {"conv1": self.conv1, "conv2": self.conv2}
        return combined({name: norm_convergence(layer.weight, 2.0) for name, layer in layers.items()})

    def learning_plan(self) -> tuple[PlanStep, ...]:
        if self.rules is None:
            return (PlanStep("all", nn.ModuleList([self.conv1, self.conv2, self.readout]), "backprop"),)
        return (
            PlanStep("conv1", self.conv1, "softhebb", self.rules[0], phase="unsupervised"),
            PlanStep("conv2", self.conv2, "softhebb", self.rules[1], phase="unsupervised"),
            PlanStep("readout", self.readout, "backprop"),
        )

    def probe_points(self) -> dict[str, nn.Module]:
        """Per block ``conv<i>.pre`` (the convolution's output) and ``conv<i>`` (after Triangle or
        ReLU and the pooling: what the next block sees), then ``output``."""
        return {
            current("conv1"): self.conv1,
            "conv1": self.block_outputs[0],
            current("conv2"): self.conv2,
            "conv2": self.block_outputs[1],
            "output": self.readout,
        }

    def first_layer_weights(self) -> torch.Tensor:
        return self.conv1.weight.detach().flatten(1)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise UserError(f"{name} must be > 0, got {value}")


@MODELS.register(
    "softhebb_mlp",
    ModelCard(
        family="hebbian",
        paper="Journé et al. 2023, ICLR (Hebbian deep learning without feedback)",
        bio=True,
        input_note="flattened, scaled to unit length (inputs = 'unit_length')",
        # 2: the norm-dependent rate's exponent is the preset's q = 0.2 (``lr_power``); fits of
        # version 1 used q = 0.5.
        fit_version=2,
    ),
)
def softhebb_mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    n_hidden: Width = 2000,
    t_invert: PositiveFloat = 100.0,
    eta: PositiveFloat = 0.045,
    anti_hebbian: bool = False,
    feature_t_invert: PositiveFloat = 5.0,
    init_radius: PositiveFloat = 35.0,
    lr_power: PositiveFloat = 0.2,
    inputs: Literal["unit_length", "raw"] = "unit_length",
    scale_features: bool = True,
) -> SoftHebbMLP:
    """One SoftHebb layer (preset 2SoftMlpMNIST) and a linear readout by backprop.

    ``lr_power`` is the exponent q of the norm-dependent rate ``eta |(||W_k|| - 1)|^q``: 0.2, the
    released code's MLP default that 2SoftMlpMNIST keeps (its CNN presets use 0.5). The released
    preset itself is ``inputs = "raw"``, ``t_invert = 12``, ``scale_features = False`` (features
    ``softmax(5 u)``) and steps of 32 images; neurosim's defaults (unit-length inputs, 100, ``K``
    times the softmax) are adaptations measured in the ``softhebb_mlp`` repro card."""
    _check_positive(n_hidden=n_hidden, t_invert=t_invert, eta=eta, init_radius=init_radius)
    rule = {
        "eta": float(eta),
        "t_invert": float(t_invert),
        "anti_hebbian": bool(anti_hebbian),
        "lr_power": float(lr_power),
    }
    return SoftHebbMLP(
        flat_size(input_shape),
        n_classes,
        int(n_hidden),
        float(feature_t_invert),
        rule,
        float(init_radius),
        inputs,
        bool(scale_features),
    )


@MODELS.register(
    "softhebb_mlp_backprop",
    ModelCard(
        family="conventional",
        paper="Journé et al. 2023, ICLR (Hebbian deep learning without feedback)",
        bio=False,
        input_note="flattened, scaled to unit length (inputs = 'unit_length')",
    ),
)
def softhebb_mlp_backprop(
    input_shape: tuple[int, ...],
    n_classes: int,
    n_hidden: Width = 2000,
    feature_t_invert: PositiveFloat = 5.0,
    inputs: Literal["unit_length", "raw"] = "unit_length",
    scale_features: bool = True,
) -> SoftHebbMLP:
    """The softhebb_mlp architecture trained end to end by backprop."""
    _check_positive(n_hidden=n_hidden)
    dimensions = (flat_size(input_shape), n_classes, int(n_hidden), float(feature_t_invert))
    return SoftHebbMLP(*dimensions, None, inputs=inputs, scale_features=bool(scale_features))


def check_per_block(model: str, **values: tuple) -> None:
    """Each option of a two-block SoftHebb CNN (``channels``, ``t_invert``, ...) lists one value per
    block; UserError naming the option otherwise."""
    for name, given in values.items():
        if len(given) != 2:
            raise UserError(f"{model} {name} must list two values (one per block), got {given!r}")


def _image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) != 3 or min(input_shape[1:]) < 4:
        raise UserError(f"softhebb_cnn needs image inputs [C, H, W] with H, W >= 4, got {input_shape}")
    return tuple(int(s) for s in input_shape)


@MODELS.register(
    "softhebb_cnn",
    ModelCard(
        family="hebbian",
        paper="Journé et al. 2023, ICLR (Hebbian deep learning without feedback)",
        bio=True,
        image_input=True,
        min_image_side=4,
        input_note="batch-normalised, convolved as given",
        receptive_field="kernel",
    ),
)
def softhebb_cnn(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: tuple[Width, Width] = (96, 384),
    t_invert: tuple[PositiveFloat, PositiveFloat] = (1.0, 0.65),
    eta: tuple[PositiveFloat, PositiveFloat] = (0.08, 0.005),
    triangle_powers: tuple[PositiveFloat, PositiveFloat] = (0.7, 1.4),
    dropout: DropoutRate = 0.5,
    init_radius: PositiveFloat = 25.0,
) -> SoftHebbCNN:
    """Two SoftHebb convolution blocks (the paper's first two) and a linear readout by backprop."""
    _check_positive(init_radius=init_radius)
    per_block = {"channels": channels, "t_invert": t_invert, "eta": eta, "triangle_powers": triangle_powers}
    check_per_block("softhebb_cnn", **per_block)
    rules = tuple(
        {"eta": float(eta[i]), "t_invert": float(t_invert[i]), "anti_hebbian": True} for i in range(2)
    )
    return SoftHebbCNN(
        _image_shape(input_shape),
        n_classes,
        (int(channels[0]), int(channels[1])),
        (float(triangle_powers[0]), float(triangle_powers[1])),
        float(dropout),
        rules,
        float(init_radius),
    )


@MODELS.register(
    "softhebb_cnn_backprop",
    ModelCard(
        family="conventional",
        paper="Journé et al. 2023, ICLR (Hebbian deep learning without feedback)",
        bio=False,
        image_input=True,
        min_image_side=4,
        input_note="batch-normalised, convolved as given",
        receptive_field="kernel",
    ),
)
def softhebb_cnn_backprop(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: tuple[Width, Width] = (96, 384),
    dropout: DropoutRate = 0.5,
) -> SoftHebbCNN:
    """The softhebb_cnn layers with ReLU, trained end to end by backprop."""
    check_per_block("softhebb_cnn_backprop", channels=channels)
    return SoftHebbCNN(
        _image_shape(input_shape),
        n_classes,
        (int(channels[0]), int(channels[1])),
        (1.0, 1.0),
        float(dropout),
        None,
    )
