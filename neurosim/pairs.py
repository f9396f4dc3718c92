"""Pairs: a biologically inspired model, its conventional twin(s), and what is held equal.

A pair's *matching policy* does two things: it derives the twin's options that must follow the
bio model (e.g. the MLP's hidden width from the number of association units), and it checks two
built models against the policy. A comparison that would break the policy (a user override
that changes the twin's width) is refused with an error rather than silently compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from neurosim.errors import UserError
from neurosim.registry import Registry

if TYPE_CHECKING:  # the type only: reports read pairs without loading model code
    from neurosim.models.base import NeurosimModel

#: A model's options, by name.
Options = dict[str, Any]
#: A policy's rule for a twin's options: the bio model's options -> the options it fixes.
Derive = Callable[[Options], Options]


@dataclass(frozen=True)
class Pair:
    """A bio-inspired model and its conventional twin(s).

    Attributes:
        name: registry key, ``<bio>_<twin>``.
        bio: model key of the biologically inspired member.
        twins: model keys of the conventional counterpart(s).
        held_equal: what the policy holds equal: ``parameters``, ``units`` or ``architecture``.
        description: one sentence for reports.
        derive_twin_options: bio options -> twin options the policy fixes (the same for every twin).
        derive_options_by_twin: for pairs whose twins take different options: twin name -> a
            function like ``derive_twin_options`` (used instead of it for the twins it names).
        check: raises ``ValueError`` if two built models do not satisfy the policy (most are built
            by :func:`same`).
    """

    name: str
    bio: str
    twins: tuple[str, ...]
    held_equal: str
    description: str
    derive_twin_options: Derive = field(default=lambda bio_options: {})
    check: Callable[[NeurosimModel, NeurosimModel], None] = field(default=lambda bio, twin: None)
    derive_options_by_twin: dict[str, Derive] = field(default_factory=dict)

    def twin_options(self, bio_options: Options, twin_options: Options, twin: str | None = None) -> Options:
        """The options of ``twin`` with the policy's values filled in; conflicts raise UserError."""
        derive = self.derive_twin_options if twin is None else self.derive_options_by_twin.get(twin)
        derive = derive or self.derive_twin_options
        fixed = derive(bio_options)
        merged = dict(twin_options)
        for key, value in fixed.items():
            if key in twin_options and _normalise(twin_options[key]) != _normalise(value):
                raise UserError(
                    f"pair {self.name!r} holds {self.held_equal} equal, so the twin's {key} must be "
                    f"{value!r}; the comparison sets {twin_options[key]!r}"
                )
            merged[key] = value
        return merged


def _normalise(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else value


PAIRS: Registry[Pair] = Registry("pair")

#: A pair's check: raises ``ValueError`` if two built models break its policy.
Check = Callable[["NeurosimModel", "NeurosimModel"], None]


def same(what: str, *measures: Callable[[NeurosimModel], object]) -> Check:
    """A check that each of ``measures`` gives the bio model and its twin equal values;
    ``ValueError("<what> differ: <bio's> vs <twin's>")`` names the first that does not."""

    def check(bio: NeurosimModel, twin: NeurosimModel) -> None:
        for measure in measures:
            ours, theirs = measure(bio), measure(twin)
            if ours != theirs:
                raise ValueError(f"{what} differ: {ours} vs {theirs}")

    return check


def _weight_shape(model: NeurosimModel) -> tuple[int, ...]:
    return tuple(model.first_layer_weights().shape)


def _trainable(model: NeurosimModel) -> int:
    return model.count_parameters()["trainable"]


def _units(model: NeurosimModel) -> int:
    """Units of the first layer (association units, hidden units, excitatory neurons, prototypes)."""
    return model.first_layer_weights().shape[0]


def _weight_shapes(model: NeurosimModel) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for name, p in model.named_parameters() if name.endswith("weight")]


def _retina(model: NeurosimModel) -> tuple[int, int]:
    """(image_size, margin) of a model with its own retina."""
    return (cast(int, model.image_size), cast(int, model.margin))


def _one_hidden_layer(bio: NeurosimModel, twin: NeurosimModel) -> None:
    hidden = [name for name in twin.probe_points() if name.startswith("hidden")]
    if len(hidden) != 1:
        raise ValueError(f"twin must have exactly one hidden layer, has {len(hidden)}")
    same("hidden widths", _units)(bio, twin)


for _bio in ("perceptron", "perceptron_averaged"):
    PAIRS.add(
        f"{_bio}_linear",
        Pair(
            name=f"{_bio}_linear",
            bio=_bio,
            twins=("linear",),
            held_equal="parameters",
            description=(
                f"{_bio.replace('_', ' ')} (error-correction rule, no gradients) vs. softmax "
                "regression by backprop: the same C x (D + 1) linear map, only the learning rule differs"
            ),
            check=same("linear maps (weight shape, trainable parameters)", _weight_shape, _trainable),
        ),
    )


PAIRS.add(
    "snn_mlp_mlp",
    Pair(
        name="snn_mlp_mlp",
        bio="snn_mlp",
        twins=("mlp",),
        held_equal="architecture",
        description=(
            "a spiking MLP of LIF neurons over T steps, trained by surrogate gradients through time, "
            "vs. the same layers without spikes (ReLU), trained by backprop"
        ),
        derive_twin_options=lambda bio_options: {
            "hidden_sizes": [int(h) for h in bio_options.get("hidden_sizes", [1000])]
        },
        check=same("layer shapes", _weight_shapes),
    ),
)

PAIRS.add(
    "snn_cnn_cnn",
    Pair(
        name="snn_cnn_cnn",
        bio="snn_cnn",
        twins=("cnn",),
        held_equal="architecture",
        description=(
            "the convolutional network of snnTorch tutorial 6 with LIF neurons over T steps (surrogate "
            "gradients through time) vs. the same layers with ReLUs, trained by backprop"
        ),
        derive_twin_options=lambda bio_options: {
            key: bio_options[key] for key in ("channels", "kernel_size", "padding") if key in bio_options
        },
        check=same("layer shapes", _weight_shapes),
    ),
)

PAIRS.add(
    "perceptron_rosenblatt_mlp",
    Pair(
        name="perceptron_rosenblatt_mlp",
        bio="perceptron_rosenblatt",
        twins=("mlp",),
        held_equal="units",
        description=(
            "Rosenblatt's photoperceptron (fixed random A-units, learned R-units) vs. an MLP with "
            "one hidden layer of the same width, every weight learned by backprop"
        ),
        derive_twin_options=lambda bio_options: {
            "hidden_sizes": [int(bio_options.get("n_association_units", 512))]
        },
        check=_one_hidden_layer,
    ),
)


def _copy_options(*keys: str) -> Derive:
    """A policy that gives the twin the bio model's values of ``keys`` (where the bio sets them)."""
    return lambda bio_options: {key: bio_options[key] for key in keys if key in bio_options}


for _name, _bio, _twin, _keys, _description in (
    (
        "hebbian_krotov_backprop",
        "hebbian_krotov",
        "krotov_backprop",
        ("n_hidden", "power", "readout", "beta", "loss_power", "centre_inputs", "inputs"),
        "Krotov & Hopfield's hidden units learnt by their local unsupervised rule (labels only at the "
        "top layer) vs. the same network with every weight learnt by backprop",
    ),
    (
        "softhebb_mlp_backprop",
        "softhebb_mlp",
        "softhebb_mlp_backprop",
        # Not feature_t_invert: for the twin, softmax(t W v) with a learnt W is a reparametrisation
        # (t only rescales W's initialisation and step size), so it keeps its own default, while the
        # Hebbian layer's unit-norm W needs the sharper readout temperature.
        ("n_hidden", "inputs", "scale_features"),
        "one soft winner-take-all layer learnt by SoftHebb without labels, linear readout by backprop, "
        "vs. the same layers learnt end to end by backprop",
    ),
    (
        "softhebb_cnn_backprop",
        "softhebb_cnn",
        "softhebb_cnn_backprop",
        ("channels", "dropout"),
        "two convolution blocks learnt by SoftHebb without labels, linear readout by backprop, vs. the "
        "same layers (ReLU) learnt end to end by backprop",
    ),
):
    PAIRS.add(
        _name,
        Pair(
            name=_name,
            bio=_bio,
            twins=(_twin,),
            held_equal="architecture",
            description=_description,
            derive_twin_options=_copy_options(*_keys),
            check=same("layer shapes", _weight_shapes),
        ),
    )


PAIRS.add(
    "neocognitron_lenet5",
    Pair(
        name="neocognitron_lenet5",
        bio="neocognitron",
        twins=("lenet5",),
        held_equal="architecture",
        description=(
            "Fukushima's Neocognitron (alternating S- and C-layers; edges taught, intermediate features "
            "self-organised by competitive learning, top layer by supervised competitive learning; no "
            "gradients) vs. LeNet-5, the convolution-and-subsampling network it inspired, by backprop, "
            "on the same retina"
        ),
        derive_twin_options=_copy_options("image_size", "margin"),
        check=same("retinas (image_size, margin)", _retina),
    ),
)


PAIRS.add(
    "diehl_cook_mlp_kmeans",
    Pair(
        name="diehl_cook_mlp_kmeans",
        bio="diehl_cook",
        twins=("mlp", "kmeans"),
        held_equal="units",
        description=(
            "Diehl & Cook's spiking network (conductance LIF, lateral inhibition, adaptive thresholds; "
            "input weights by STDP without labels, then label assignment) vs. an MLP with one hidden "
            "layer of as many units trained by backprop, and k-means with as many prototypes and the "
            "same label assignment (competitive learning without spikes)"
        ),
        derive_options_by_twin={
            "mlp": lambda bio_options: {"hidden_sizes": [int(bio_options.get("n_neurons", 100))]},
            "kmeans": lambda bio_options: {
                "n_prototypes": int(bio_options.get("n_neurons", 100)),
                **({"readout": bio_options["readout"]} if "readout" in bio_options else {}),
            },
        },
        check=same("unit counts", _units),
    ),
)


def stored_pair_members(attrs: dict[str, Any]) -> dict[str, list[str]]:
    """``{pair: [bio member, twin members]}`` of stored results (their ``pair_members`` attribute;
    results stored before members could be renamed name them by the pair's model keys)."""
    if "pair_members" in attrs:
        members: dict[str, list[str]] = json.loads(attrs["pair_members"])
        return members
    names = filter(None, attrs.get("pairs", "").split(","))
    return {name: [PAIRS.get(name).bio, *PAIRS.get(name).twins] for name in names}


def group_by_pair(
    pair_members: dict[str, list[str]], models: list[str], unpaired_together: bool = False
) -> list[list[str]]:
    """``models`` grouped by pair (``pair_members``: the bio member first, then its twins; those
    present), then the unpaired ones: each alone, or all in one group with ``unpaired_together``."""
    groups = []
    for members in pair_members.values():
        groups.append([m for m in members if m in models])
    grouped = {m for group in groups for m in group}
    unpaired = [m for m in models if m not in grouped]
    rest = [unpaired] if unpaired_together else [[m] for m in unpaired]
    return [group for group in [*groups, *rest] if group]
