"""What a pair holds equal, and the checks that enforce it.

Each :class:`Held` property names what is equal between a pair's bio model and every twin or
control (as reports print it) together with the check the runner applies to the built models
before any training (:func:`neurosim.runner.check_pairs`): a pair states only what is checked.
The measures read built models (their weights, probe points and retina); this module imports no
model code, so reports may read the properties' names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from neurosim.probes import outputs

if TYPE_CHECKING:  # the type only: reports read pairs without loading model code
    from neurosim.models.base import NeurosimModel

#: A check of one held property: raises ``ValueError`` if two built models differ in it.
Check = Callable[["NeurosimModel", "NeurosimModel"], None]


@dataclass(frozen=True)
class Held:
    """One property a pair holds equal between its bio model and each twin, and its check.

    Attributes:
        name: the property in words, as reports print it (``"retina (image_size, margin)"``).
        check: ``(bio, twin) -> None``; raises ``ValueError`` naming the values that differ.
    """

    name: str
    check: Check


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
    """The twin has one hidden layer (one output probe named ``hidden*``; its ``.pre`` current is
    the same layer) of as many units as the bio model's first layer."""
    hidden = [name for name in outputs(twin.probe_points()) if name.startswith("hidden")]
    if len(hidden) != 1:
        raise ValueError(f"twin must have exactly one hidden layer, has {len(hidden)}")
    same("hidden widths", _units)(bio, twin)


#: The properties the pairs hold equal, each with its check.
LINEAR_MAP = Held(
    "linear map (weight shape C x D, trainable parameters C x (D + 1))",
    same("linear maps (weight shape, trainable parameters)", _weight_shape, _trainable),
)
LAYER_SHAPES = Held("every layer's weight shape", same("layer shapes", _weight_shapes))
#: ``units``: one hidden layer of as many units as the bio model's first layer.
ONE_HIDDEN_LAYER = Held("units", _one_hidden_layer)
FIRST_LAYER_UNITS = Held("units", same("unit counts", _units))
RETINA = Held("retina (image_size, margin)", same("retinas (image_size, margin)", _retina))
