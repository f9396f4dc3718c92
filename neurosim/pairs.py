"""Pairs: a biologically inspired model, its conventional twin(s), and what is held equal.

A pair's *matching policy* does two things: it derives the twin's options that must follow the
bio model (e.g. the MLP's hidden width from the number of association units), and it checks two
built models against the policy. A comparison that would break the policy (a user override
that changes the twin's width) is refused with an error rather than silently compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neurosim.errors import UserError
from neurosim.pair_checks import (
    FIRST_LAYER_UNITS,
    LAYER_SHAPES,
    LINEAR_MAP,
    ONE_HIDDEN_LAYER,
    RETINA,
    Held,
)
from neurosim.registry import Registry

if TYPE_CHECKING:  # the type only: reports read pairs without loading model code
    from neurosim.models.base import NeurosimModel

#: A model's options, by name.
Options = dict[str, Any]
#: A policy's rule for a twin's options: the bio model's options -> the options it fixes.
Derive = Callable[[Options], Options]


@dataclass(frozen=True)
class Pair:
    """A bio-inspired model, its conventional twin(s) and its control(s).

    Attributes:
        name: registry key, ``<bio>_<twin>``.
        bio: model key of the biologically inspired member.
        twins: model keys of the other members: the conventional counterpart(s), then the controls
            (a comparison fits all of them, and the reports pair each with the bio model).
        held: what the pair holds equal, each property with the check that enforces it; the
            runner checks every twin and control against the bio model before any training.
        description: one sentence for reports.
        differs: what is *not* held equal though a reader might assume it (unchecked, stated).
        controls: the members of ``twins`` that are controls rather than conventional twins: the
            bio model's readout (or its features) with the rest learnt by a conventional method
            without labels, which asks "is it the bio rule, or any unsupervised pretraining?"
        derive_twin_options: bio options -> twin options the policy fixes (the same for every twin).
        derive_options_by_twin: for pairs whose twins take different options: twin name -> a
            function like ``derive_twin_options`` (used instead of it for the twins it names).
        default_options_by_twin: twin name -> bio options -> options that twin takes from the bio
            model *unless the comparison sets its own*: starting values, not held equal, so that a
            control can be tuned on a grid of its own (a setting the bio model chose on its own
            grid is no reason to fix the control's).
    """

    name: str
    bio: str
    twins: tuple[str, ...]
    held: tuple[Held, ...]
    description: str
    differs: str = ""
    controls: tuple[str, ...] = ()
    derive_twin_options: Derive = field(default=lambda bio_options: {})
    derive_options_by_twin: dict[str, Derive] = field(default_factory=dict)
    default_options_by_twin: dict[str, Derive] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.held:
            raise ValueError(f"pair {self.name!r} must hold something equal, with its check")
        stray = sorted(set(self.controls) - set(self.twins))
        if stray:
            raise ValueError(f"pair {self.name!r}: controls {stray} are not among its twins {self.twins}")

    @property
    def held_equal(self) -> str:
        """The properties held equal, in words (``"units"``, ``"retina (image_size, margin)"``)."""
        return ", ".join(held.name for held in self.held)

    def role(self, twin: str) -> str:
        """``control`` for a model key in :attr:`controls`, else ``twin``."""
        return "control" if twin in self.controls else "twin"

    def check(self, bio: NeurosimModel, twin: NeurosimModel) -> None:
        """Raise ``ValueError`` if ``twin`` differs from ``bio`` in a property the pair holds equal."""
        for held in self.held:
            held.check(bio, twin)

    def twin_options(self, bio_options: Options, twin_options: Options, twin: str | None = None) -> Options:
        """The options of ``twin`` with the policy's values filled in (the bio model's defaults for
        ``twin`` where the comparison sets none); conflicts with held values raise UserError."""
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
        default = self.default_options_by_twin.get(twin) if twin else None
        defaults = default(bio_options) if default else {}
        return {key: value for key, value in defaults.items() if key not in merged} | merged


def _normalise(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else value


PAIRS: Registry[Pair] = Registry("pair")


for _bio in ("perceptron", "perceptron_averaged"):
    PAIRS.add(
        f"{_bio}_linear",
        Pair(
            name=f"{_bio}_linear",
            bio=_bio,
            twins=("linear",),
            held=(LINEAR_MAP,),
            description=(
                f"{_bio.replace('_', ' ')} (error-correction rule, no gradients) vs. softmax "
                "regression by backprop: the same C x (D + 1) linear map, only the learning rule differs"
            ),
            differs="the learning rule, the loss (none vs. cross-entropy)",
        ),
    )


PAIRS.add(
    "snn_mlp_mlp",
    Pair(
        name="snn_mlp_mlp",
        bio="snn_mlp",
        twins=("mlp",),
        held=(LAYER_SHAPES,),
        description=(
            "a spiking MLP of LIF neurons over T steps, trained by surrogate gradients through time, "
            "vs. the same layers without spikes (ReLU), trained by backprop"
        ),
        differs="neurons (LIF over T steps vs. ReLU, once); operations per inference",
        derive_twin_options=lambda bio_options: {
            "hidden_sizes": [int(h) for h in bio_options.get("hidden_sizes", [1000])]
        },
    ),
)

PAIRS.add(
    "snn_cnn_cnn",
    Pair(
        name="snn_cnn_cnn",
        bio="snn_cnn",
        twins=("cnn",),
        held=(LAYER_SHAPES,),
        description=(
            "the convolutional network of snnTorch tutorial 6 with LIF neurons over T steps (surrogate "
            "gradients through time) vs. the same layers with ReLUs, trained by backprop"
        ),
        differs="neurons (LIF over T steps vs. ReLU, once); operations per inference",
        derive_twin_options=lambda bio_options: {
            key: bio_options[key] for key in ("channels", "kernel_size", "padding") if key in bio_options
        },
    ),
)

PAIRS.add(
    "perceptron_rosenblatt_mlp",
    Pair(
        name="perceptron_rosenblatt_mlp",
        bio="perceptron_rosenblatt",
        twins=("mlp",),
        held=(ONE_HIDDEN_LAYER,),
        description=(
            "Rosenblatt's photoperceptron (fixed random A-units, learned R-units) vs. an MLP with "
            "one hidden layer of the same width, every weight learned by backprop"
        ),
        differs="trainable parameters (the A-units are fixed, the MLP learns its hidden layer)",
        derive_twin_options=lambda bio_options: {
            "hidden_sizes": [int(bio_options.get("n_association_units", 512))]
        },
    ),
)


def _copy_options(*keys: str) -> Derive:
    """A policy that gives the twin the bio model's values of ``keys`` (where the bio sets them)."""
    return lambda bio_options: {key: bio_options[key] for key in keys if key in bio_options}


#: Options the Krotov-Hopfield twin takes from the bio model; its k-means control also takes the
#: rule's ``p`` (the norm its centroids are scaled to).
_KROTOV_KEYS = ("n_hidden", "power", "readout", "beta", "loss_power", "centre_inputs", "inputs")
#: Options a control starts from the bio model's values of, unless its comparison tunes its own:
#: the dense SoftHebb control's readout temperature (its unit-norm centroids need a sharp one, as
#: the Hebbian layer's unit-norm W does, but the best value for centroids is its own question).
_CONTROL_DEFAULTS = {"softhebb_mlp_kmeans": ("feature_t_invert",)}
for _name, _bio, _twin, _keys, _control, _control_keys, _description in (
    (
        "hebbian_krotov_backprop",
        "hebbian_krotov",
        "krotov_backprop",
        _KROTOV_KEYS,
        "krotov_kmeans",
        (*_KROTOV_KEYS, "p"),
        "Krotov & Hopfield's hidden units learnt by their local unsupervised rule (labels only at the "
        "top layer) vs. the same network with every weight learnt by backprop",
    ),
    (
        "softhebb_mlp_backprop",
        "softhebb_mlp",
        "softhebb_mlp_backprop",
        # Not feature_t_invert: for the twin, softmax(t W v) with a learnt W is a reparametrisation
        # (t only rescales W's initialisation and step size), so it keeps its own default, while the
        # Hebbian layer's unit-norm W needs the sharper readout temperature (its control starts from it).
        ("n_hidden", "inputs", "scale_features"),
        "softhebb_mlp_kmeans",
        ("n_hidden", "inputs", "scale_features"),
        "one soft winner-take-all layer learnt by SoftHebb without labels, linear readout by backprop, "
        "vs. the same layers learnt end to end by backprop",
    ),
    (
        "softhebb_cnn_backprop",
        "softhebb_cnn",
        "softhebb_cnn_backprop",
        ("channels", "dropout"),
        "softhebb_cnn_kmeans",
        ("channels", "dropout", "triangle_powers"),
        "two convolution blocks learnt by SoftHebb without labels, linear readout by backprop, vs. the "
        "same layers (ReLU) learnt end to end by backprop",
    ),
):
    PAIRS.add(
        _name,
        Pair(
            name=_name,
            bio=_bio,
            twins=(_twin, _control),
            held=(LAYER_SHAPES,),
            description=_description
            + f"; control: the same network with k-means in place of the Hebbian rule ({_control})",
            differs="the learning rule of the hidden layers; the twin's activation where noted",
            controls=(_control,),
            derive_twin_options=_copy_options(*_keys),
            derive_options_by_twin={_control: _copy_options(*_control_keys)},
            default_options_by_twin={_control: _copy_options(*_CONTROL_DEFAULTS.get(_control, ()))},
        ),
    )


#: The Neocognitron's options up to US3 other than its thresholds.
NEOCOGNITRON_KEYS = (
    *("image_size", "margin", "planes", "q", "spread_decay", "competition_radius"),
    *("generation_fraction", "surround", "max_generated_per_image"),
)


def _neocognitron_knn_options(bio_options: Options) -> Options:
    """The Neocognitron's options up to US3 (its US4 thresholds dropped: the control has no US4)."""
    options = _copy_options(*NEOCOGNITRON_KEYS)(bio_options)
    for key, kept in (("theta_recognition", 3), ("theta_learning", 2)):
        if key in bio_options:
            options[key] = list(bio_options[key])[:kept]
    return options


def _neocognitron_kmeans_options(bio_options: Options) -> Options:
    """The retina, US4's options, and as many k-means prototypes as US3 has planes."""
    options = _copy_options("image_size", "margin", "q", "max_top_cells")(bio_options)
    if "planes" in bio_options:
        options["n_prototypes"] = int(list(bio_options["planes"])[1])
    for key, index in (("theta_recognition", 3), ("theta_learning", 2)):
        if key in bio_options:
            options[key] = float(list(bio_options[key])[index])
    return options


PAIRS.add(
    "neocognitron_lenet5",
    Pair(
        name="neocognitron_lenet5",
        bio="neocognitron",
        twins=("lenet5", "neocognitron_kmeans", "neocognitron_knn"),
        held=(RETINA,),
        description=(
            "Fukushima's Neocognitron (alternating S- and C-layers; edges taught, intermediate features "
            "self-organised by competitive learning, top layer by supervised competitive learning; no "
            "gradients) vs. LeNet-5, the convolution-and-subsampling network it inspired, by backprop, "
            "on the same retina; controls: US4 on k-means features of the retina (neocognitron_kmeans), "
            "and a nearest-class-mean readout on UC3 in place of US4 (neocognitron_knn)"
        ),
        differs=(
            "layers, planes, units and parameters: 16 / <= 64 / <= 128 S-planes and a top layer that "
            "grows a cell per uncovered example (thousands) vs. LeNet-5's 6 / 16 / 120 / 84 units and "
            "~60k parameters"
        ),
        controls=("neocognitron_kmeans", "neocognitron_knn"),
        derive_twin_options=_copy_options("image_size", "margin"),
        derive_options_by_twin={
            "neocognitron_kmeans": _neocognitron_kmeans_options,
            "neocognitron_knn": _neocognitron_knn_options,
        },
    ),
)


PAIRS.add(
    "diehl_cook_mlp_kmeans",
    Pair(
        name="diehl_cook_mlp_kmeans",
        bio="diehl_cook",
        twins=("mlp", "kmeans"),
        held=(FIRST_LAYER_UNITS,),
        description=(
            "Diehl & Cook's spiking network (conductance LIF, lateral inhibition, adaptive thresholds; "
            "input weights by STDP without labels, then label assignment) vs. an MLP with one hidden "
            "layer of as many units trained by backprop, and k-means with as many prototypes and the "
            "same label assignment (competitive learning without spikes)"
        ),
        differs=(
            "budget: the MLP trains the shared supervised epochs on labels, the spiking network and "
            "k-means learn their first layer from unlabelled presentations, then assign labels"
        ),
        # k-means is this pair's named twin (in the pair's name since it was made): it answers the
        # control's question ("spikes and STDP, or any competitive learning?") and stays in a
        # comparison with ``controls = false``.
        derive_options_by_twin={
            "mlp": lambda bio_options: {"hidden_sizes": [int(bio_options.get("n_neurons", 100))]},
            "kmeans": lambda bio_options: {
                "n_prototypes": int(bio_options.get("n_neurons", 100)),
                **({"readout": bio_options["readout"]} if "readout" in bio_options else {}),
            },
        },
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


def is_control(model: str, pairs: Iterable[str]) -> bool:
    """Whether the model key ``model`` stands as an unsupervised control (:attr:`Pair.controls`) in
    one of ``pairs``. Such a member's config role is ``twin``, which its fit identity keeps; what
    the user reads (reports, ``--dry-run``) names it ``control``."""
    return any(name in PAIRS and model in PAIRS.get(name).controls for name in pairs)


def stored_controls(attrs: dict[str, Any]) -> set[str]:
    """Member names of stored results that are a pair's control (:func:`is_control`), read from
    the results' ``config`` attribute."""
    config = json.loads(attrs.get("config", "{}"))
    members = config.get("members", [])
    return {m["name"] for m in members if is_control(m["model"], m.get("pairs", []))}


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
