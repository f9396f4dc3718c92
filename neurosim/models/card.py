"""A model's card: what a registered model is and what it needs, registered with its factory.

Every model registers a factory ``(input_shape, n_classes, **options) -> NeurosimModel`` (a class
is its own factory) together with a :class:`ModelCard`::

    @MODELS.register("mlp", ModelCard(family="conventional", paper="Rumelhart et al. 1986", bio=False))
    def mlp(input_shape, n_classes, hidden_sizes=(128,), activation="relu"): ...

The card's :attr:`~ModelCard.defaults` are filled in at registration from the factory's signature;
everything else is written by the model's author. ``neurosim list models -v`` prints every card,
the runner reads :attr:`~ModelCard.fit_version` and the contract tests read what each model takes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: The families of models, and what each is.
FAMILIES = {
    "perceptron": "threshold units trained by error correction, without gradients",
    "spiking": "spiking neurons (LIF), trained by surrogate gradients or by STDP",
    "hebbian": "layers learnt without labels by a local Hebbian rule, a readout by backprop",
    "competitive": "cells learnt by competitive learning, without gradients",
    "clustering": "prototypes learnt without labels, labelled by assignment",
    "conventional": "every weight trained end to end by backprop",
    "control": (
        "a pair's control: the bio model's readout on features learnt without labels by a "
        "conventional method (k-means), or its own features under another readout"
    ),
}

#: What one row of ``first_layer_weights()`` spans: ``input``, one weight per value of the input
#: as given (``[units, D]``); ``kernel``, a convolution kernel (a patch); ``retina``, the model's
#: own input grid (images resized first), which need not be the input's size.
RECEPTIVE_FIELDS = ("input", "kernel", "retina")

#: Line width of :meth:`ModelCard.describe`.
DESCRIBE_WIDTH = 100


@dataclass(frozen=True)
class ModelCard:
    """What a registered model is and what it needs.

    Attributes:
        family: one of :data:`FAMILIES`.
        paper: short citation of the paper the model follows.
        bio: whether it is a biologically inspired member (``True``) or a conventional one (a
            twin, or a control: family ``control``, see :attr:`neurosim.pairs.Pair.controls`).
        image_input: whether it needs image inputs ``[C, H, W]``; ``False``: any shape.
        channels: the one channel count ``C`` it takes (image inputs), ``None``: any.
        min_image_side: the smallest ``H`` and ``W`` it takes at its default options.
        small_image_options: options with which it takes images smaller than ``min_image_side``
            (e.g. ``{"padding": 2}`` for 8x8 digits); empty: none needed or none exist.
        input_note: what the model does with an input before its first layer, in words.
        receptive_field: what a row of ``first_layer_weights()`` spans (:data:`RECEPTIVE_FIELDS`).
        cuda_differs: why its outputs on CUDA differ from the CPU's by design; empty: they agree.
        fit_version: version of what a fit of this model learns from a given configuration. A
            fit's identity is its configuration, so a code change that alters what the same
            configuration learns (a corrected equation, a new default algorithm) bumps this:
            stored fits of the old code are then refitted instead of being reused as if they were
            current. Version 1 leaves identities as they were before versions existed.
        defaults: the factory's options and their default values, filled in at registration
            (:func:`neurosim.models.registry.factory_defaults`); empty on a card being written.
    """

    family: str
    paper: str
    bio: bool
    image_input: bool = False
    channels: int | None = None
    min_image_side: int = 1
    small_image_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    input_note: str = "flattened"
    receptive_field: str = "input"
    cuda_differs: str = ""
    fit_version: int = 1
    defaults: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; valid: {', '.join(FAMILIES)}")
        if self.receptive_field not in RECEPTIVE_FIELDS:
            raise ValueError(
                f"unknown receptive field {self.receptive_field!r}; valid: {', '.join(RECEPTIVE_FIELDS)}"
            )
        if (
            isinstance(self.fit_version, bool)
            or not isinstance(self.fit_version, int)
            or self.fit_version < 1
        ):
            raise ValueError(f"fit_version must be an int >= 1, got {self.fit_version!r}")
        if self.min_image_side < 1 or (self.channels is not None and self.channels < 1):
            raise ValueError("min_image_side and channels must be positive")
        if not self.image_input and (
            self.channels is not None or self.min_image_side > 1 or self.small_image_options
        ):
            raise ValueError("channels, min_image_side and small_image_options describe image inputs only")
        object.__setattr__(self, "small_image_options", MappingProxyType(dict(self.small_image_options)))
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def accepts(self, input_shape: tuple[int, ...]) -> bool:
        """Whether the model takes inputs of ``input_shape`` at its default options."""
        if not self.image_input:
            return True
        if len(input_shape) != 3 or (self.channels is not None and input_shape[0] != self.channels):
            return False
        return min(input_shape[1:]) >= self.min_image_side

    def input_constraints(self) -> str:
        """The inputs it takes and what it does with them, in words."""
        if not self.image_input:
            shape = "any shape"
        else:
            shape = f"images [{'C' if self.channels is None else self.channels}, H, W]"
            if self.min_image_side > 1:
                shape += f" with H, W >= {self.min_image_side}"
                if self.small_image_options:
                    shape += f" (smaller with {_assignments(self.small_image_options)})"
        return f"{shape}; {self.input_note}" if self.input_note else shape

    def describe(self, name: str) -> str:
        """The card as a block of lines, headed by the model's ``name`` (``neurosim list models -v``)."""
        fields = {
            "family": f"{self.family} (bio-inspired: {'yes' if self.bio else 'no'})",
            "paper": self.paper or "(none)",
            "inputs": self.input_constraints(),
            "defaults": _assignments(self.defaults) or "(no options)",
            "fit version": str(self.fit_version),
        }
        if self.cuda_differs:
            fields["cuda"] = f"differs from the CPU by design: {self.cuda_differs}"
        lines = [name]
        for label, text in fields.items():
            head = f"  {label:<13}"
            indent = " " * len(head)
            lines += textwrap.wrap(
                text, DESCRIBE_WIDTH, initial_indent=head, subsequent_indent=indent, break_on_hyphens=False
            )
        return "\n".join(lines)


def _assignments(options: Mapping[str, Any]) -> str:
    """``name=value, ...`` with values as Python writes them (tuples as lists, as TOML writes them)."""
    return ", ".join(f"{key}={_value(value)}" for key, value in options.items())


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value)
