"""Unsupervised-ANN controls of the Hebbian pairs: the bio model with its Hebbian rule replaced by
k-means, everything else (inputs, units, nonlinearity, readout, its training) kept.

A Hebbian model that beats its backprop twin with few labels may owe it to Hebbian learning, or
only to having features learnt without labels at all. Each control answers that: the same
network as the bio model, whose unsupervised layers learn by a conventional method instead,
mini-batch k-means (Sculley 2010, k-means++ seeding), on the same unlabelled images::

    krotov_kmeans        v = x / ||x|| -> u = W_hat v -> relu(u)^n -> tanh(beta S f)  (Krotov-Hopfield)
    softhebb_mlp_kmeans  v = x / ||x|| -> u = W_hat v -> K softmax(t u) -> linear     (SoftHebb MLP)
    softhebb_cnn_kmeans  BN -> conv W_hat1 -> Triangle -> pool -> BN -> conv W_hat2 -> Triangle
                         -> pool -> linear                                              (SoftHebb CNN)

``W`` ``[H, D]`` holds k-means centroids of the layer's own inputs (the unit-length images; for a
convolution, its input patches: Coates, Lee & Ng 2011, whose "triangle" k-means activation
SoftHebb's Triangle follows), and ``W_hat_k = W_k / ||W_k||_p`` scales each centroid to the unit
sphere of the norm the Hebbian rule converges to (p = 3 for Krotov-Hopfield's default rule, 2 for
SoftHebb), so the readout sees features on the scale a converged Hebbian layer gives it. The
readout is the bio model's own (type, loss, optimiser, labelled budget and epochs come from the
comparison as for every member). Units are matched: ``n_hidden`` (``channels``) equals the bio
model's, so the pair's check (weight shapes of every layer) holds for the control too.

Shapes: as the bio models' (``[B, ...]`` inputs; ``[B, C]`` logits).
"""

from __future__ import annotations

from typing import Annotated, Literal, cast

import annotated_types as at
import torch
import torch.nn.functional as F
from torch import nn

from neurosim.errors import UserError, choices_message
from neurosim.models.base import PlanStep, flat_size
from neurosim.models.convergence import Convergence
from neurosim.models.krotov import READOUTS, KrotovHopfieldNetwork
from neurosim.models.registry import MODELS, ModelCard
from neurosim.models.softhebb import SoftHebbCNN, SoftHebbMLP, _image_shape, check_per_block
from neurosim.options import DropoutRate, PositiveFloat, PositiveInt, Width
from neurosim.rules import kmeans as _kmeans  # noqa: F401  (registers minibatch_kmeans)
from neurosim.rules import patch_kmeans as _patch_kmeans  # noqa: F401  (registers patch_kmeans)
from neurosim.rules.patch_whitening import SAMPLES_PER_DIM, PatchWhitening

#: Norm exponent ``p`` of the unit sphere of the rule each control stands in for.
KROTOV_P, SOFTHEBB_P = 3.0, 2.0


def unit_rows(weight: torch.Tensor, p: float) -> torch.Tensor:
    """``weight`` with every row (output unit, flattened) scaled to unit ``p``-norm; zero rows stay 0."""
    norms = weight.flatten(1).norm(p=p, dim=1).clamp_min(1e-12)
    return weight / norms.view(-1, *([1] * (weight.dim() - 1)))


class PrototypeLinear(nn.Module):
    """``u = W_hat v`` with ``W`` ``[H, D]`` k-means centroids (rule ``minibatch_kmeans``) and
    ``taken`` ``[H]`` the inputs each has taken; ``W_hat``: rows at unit ``p``-norm."""

    def __init__(self, n_inputs: int, n_units: int, p: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_units, n_inputs), requires_grad=False)
        self.taken = nn.Parameter(torch.zeros(n_units), requires_grad=False)
        self.p = p

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return F.linear(v, unit_rows(self.weight, self.p))


class PrototypeConv2d(nn.Conv2d):
    """A convolution whose kernels are k-means centroids of its input patches (rule
    ``patch_kmeans``), each scaled to unit ``p``-norm when applied; ``taken [K]`` as above.

    Without whitening it has no bias. With ``whiten`` the centroids live in the ZCA-whitened
    patch space (:mod:`neurosim.rules.patch_whitening`, estimated by the rule), and the layer
    applies the folded kernels and bias, so that it answers a raw patch as the unit centroid
    answers the whitened one (``centred``: the rule centres patches, so the kernels are too)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int,
        p: float,
        whiten: bool = False,
        centred: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.padding_mode = "reflect"  # as the SoftHebb layers it stands in for
        nn.init.zeros_(self.weight)
        self.weight.requires_grad_(False)
        self.taken = nn.Parameter(torch.zeros(out_channels), requires_grad=False)
        self.p, self.centred = p, centred
        size = in_channels * kernel_size * kernel_size
        self.whitening = PatchWhitening(size) if whiten else None

    def applied(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The kernels ``[K, C, k, k]`` and bias ``[K]`` (or ``None``) the layer applies to raw input."""
        kernels = unit_rows(self.weight, self.p)
        if self.whitening is None or not self.whitening.ready:
            return kernels, None
        folded, bias = self.whitening.fold(kernels.flatten(1), self.centred)
        return folded.view_as(kernels), bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, *self.applied())


def _prototype_hidden(network: KrotovHopfieldNetwork | SoftHebbMLP, p: float) -> None:
    """Give a dense Hebbian network k-means hidden units in place of its Hebbian (or backprop) ones."""
    n_units, n_inputs = network.hidden.weight.shape
    network.hidden = PrototypeLinear(int(n_inputs), int(n_units), p)  # type: ignore[assignment]
    network.rule, network.rule_options = "minibatch_kmeans", {}


class KrotovKMeans(KrotovHopfieldNetwork):
    """Krotov & Hopfield's network with k-means hidden units (module docstring)."""

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        n_hidden: int,
        top: tuple,
        p: float,
        centre_inputs: bool,
        inputs: str,
    ) -> None:
        power, readout, beta, loss_power = top
        super().__init__(
            n_inputs, n_classes, n_hidden, power, readout, beta, loss_power, None, centre_inputs, inputs
        )
        _prototype_hidden(self, p)
        self.fixed_point_p = p

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        return None  # k-means has no norm fixed point to reach; its inertia is the train loss


class SoftHebbMLPKMeans(SoftHebbMLP):
    """The SoftHebb MLP with k-means hidden units (module docstring)."""

    def __init__(self, n_inputs: int, n_classes: int, n_hidden: int, feature_t_invert: float, **kw) -> None:
        super().__init__(n_inputs, n_classes, n_hidden, feature_t_invert, None, **kw)
        _prototype_hidden(self, SOFTHEBB_P)

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        return None


class SoftHebbCNNKMeans(SoftHebbCNN):
    """The SoftHebb CNN with k-means kernels, Triangle kept (module docstring)."""

    def __init__(self, input_shape, n_classes, channels, triangle_powers, dropout, patch_rule: dict) -> None:
        super().__init__(input_shape, n_classes, channels, triangle_powers, dropout, None)
        in_channels = input_shape[0]
        layout = {"whiten": patch_rule["whiten_patches"], "centred": patch_rule["centre_patches"]}
        self.conv1 = PrototypeConv2d(in_channels, channels[0], 5, 2, SOFTHEBB_P, **layout)
        self.conv2 = PrototypeConv2d(channels[0], channels[1], 3, 1, SOFTHEBB_P, **layout)
        self.patch_rule = dict(patch_rule)
        self.rules = (self.patch_rule, self.patch_rule)  # not None: Triangle, frozen features, as the bio

    def learning_plan(self) -> tuple[PlanStep, ...]:
        return (
            PlanStep("conv1", self.conv1, "patch_kmeans", dict(self.patch_rule), phase="unsupervised"),
            PlanStep("conv2", self.conv2, "patch_kmeans", dict(self.patch_rule), phase="unsupervised"),
            PlanStep("readout", self.readout, "backprop"),
        )

    def convergence(self, x: torch.Tensor) -> Convergence | None:
        """Not learnt when a block's whitening never saw the patches it needs (its kernels stay
        zero and the block outputs zeros: too small an unlabelled budget); else not checked."""
        layers = {"conv1": self.conv1, "conv2": self.conv2}
        short = {
            name: whitening
            for name, layer in layers.items()
            if (whitening := cast(PrototypeConv2d, layer).whitening) is not None and not whitening.ready
        }
        if not short:
            return None
        summary = "; ".join(
            f"{name}: whitening estimated on {int(w.count)} of the {SAMPLES_PER_DIM * w.size} patches it "
            "needs, so k-means never ran and the block outputs zeros"
            for name, w in short.items()
        )
        return Convergence(
            False, summary, {f"{name}.whitening_patches": float(w.count) for name, w in short.items()}
        )

    def first_layer_weights(self) -> torch.Tensor:
        """The kernels conv1 applies to its (batch-normalised) input: with whitening, the folded
        ones, not the centroids in the whitened space."""
        return cast(PrototypeConv2d, self.conv1).applied()[0].detach().flatten(1)


def _card(paper: str, **image: object) -> ModelCard:
    note = "flattened, scaled to unit length (inputs = 'unit_length')"
    return ModelCard(family="control", paper=paper, bio=False, **({"input_note": note} | image))  # type: ignore[arg-type]


KMEANS_PAPER = "Sculley 2010, WWW (mini-batch k-means)"


#: 2: k-means++ continued over batches (:func:`neurosim.rules.kmeans.seed_empty`).
SEEDING_FIT_VERSION = 2


@MODELS.register(
    "krotov_kmeans",
    _card(f"{KMEANS_PAPER}; readout: Krotov & Hopfield 2019", fit_version=SEEDING_FIT_VERSION),
)
def krotov_kmeans(
    input_shape: tuple[int, ...],
    n_classes: int,
    n_hidden: Width = 2000,
    power: PositiveFloat = 4.5,
    readout: Literal["power_tanh", "linear"] = "power_tanh",
    beta: PositiveFloat = 1.0,
    loss_power: PositiveFloat = 6.0,
    p: Annotated[float, at.Ge(1)] = KROTOV_P,
    centre_inputs: bool = False,
    inputs: Literal["unit_length", "raw"] = "unit_length",
) -> KrotovKMeans:
    """Krotov-Hopfield's network with k-means hidden units scaled to unit ``p``-norm (the rule's p)."""
    if readout not in READOUTS:
        raise UserError(choices_message("readout", readout, READOUTS))
    top = (float(power), readout, float(beta), float(loss_power))
    size = flat_size(input_shape)
    return KrotovKMeans(size, n_classes, int(n_hidden), top, float(p), bool(centre_inputs), inputs)


@MODELS.register(
    "softhebb_mlp_kmeans",
    _card(f"{KMEANS_PAPER}; readout: Journé et al. 2023, ICLR", fit_version=SEEDING_FIT_VERSION),
)
def softhebb_mlp_kmeans(
    input_shape: tuple[int, ...],
    n_classes: int,
    n_hidden: Width = 2000,
    feature_t_invert: PositiveFloat = 5.0,
    inputs: Literal["unit_length", "raw"] = "unit_length",
    scale_features: bool = True,
) -> SoftHebbMLPKMeans:
    """The SoftHebb MLP with k-means hidden units at unit length, its readout kept."""
    options = {"inputs": inputs, "scale_features": bool(scale_features)}
    return SoftHebbMLPKMeans(
        flat_size(input_shape), n_classes, int(n_hidden), float(feature_t_invert), **options
    )


@MODELS.register(
    "softhebb_cnn_kmeans",
    ModelCard(
        family="control",
        paper="Coates, Lee & Ng 2011, AISTATS (k-means kernels); layers: Journé et al. 2023, ICLR",
        bio=False,
        image_input=True,
        min_image_side=4,
        input_note="batch-normalised, convolved as given",
        receptive_field="kernel",
        fit_version=3,  # 2: whitened patches by default (whiten_patches); 3: seeding as above
    ),
)
def softhebb_cnn_kmeans(
    input_shape: tuple[int, ...],
    n_classes: int,
    channels: tuple[Width, Width] = (96, 384),
    triangle_powers: tuple[PositiveFloat, PositiveFloat] = (0.7, 1.4),
    dropout: DropoutRate = 0.5,
    patches_per_image: PositiveInt = 64,
    centre_patches: bool = True,
    whiten_patches: bool = True,
) -> SoftHebbCNNKMeans:
    """The SoftHebb CNN's two blocks with k-means kernels (patches of each block's input);
    ``centre_patches``: k-means on mean-subtracted patches, zero-mean kernels
    (:mod:`neurosim.rules.patch_kmeans`); ``whiten_patches``: on ZCA-whitened patches, the whitening
    folded into each layer's kernels and bias (:mod:`neurosim.rules.patch_whitening`)."""
    check_per_block("softhebb_cnn_kmeans", channels=channels, triangle_powers=triangle_powers)
    widths = (int(channels[0]), int(channels[1]))
    powers = (float(triangle_powers[0]), float(triangle_powers[1]))
    return SoftHebbCNNKMeans(
        _image_shape(input_shape),
        n_classes,
        widths,
        powers,
        float(dropout),
        {
            "patches_per_image": int(patches_per_image),
            "centre_patches": bool(centre_patches),
            "whiten_patches": bool(whiten_patches),
        },
    )
