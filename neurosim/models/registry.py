"""The model registry: name -> factory ``(input_shape, n_classes, **options) -> NeurosimModel``,
each with its :class:`~neurosim.models.card.ModelCard`.

A model registers a factory function or a class (a class is its own factory) with its card::

    @MODELS.register("kmeans", ModelCard(family="clustering", paper="Sculley 2010", bio=False))
    class KMeansAssignment(AssignmentLabelled): ...

``MODELS.get(name)`` gives the factory, ``MODELS.card(name)`` the card, its ``defaults`` filled in
from the factory's signature.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from neurosim.models.base import NeurosimModel
from neurosim.models.card import ModelCard
from neurosim.registry import Registry

#: The parameters every model factory takes first, supplied by neurosim (not options).
SUPPLIED = ("input_shape", "n_classes")

Factory = Callable[..., NeurosimModel]


def factory_defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """``{option: default}`` of a model factory (function or class), in signature order.

    Raises:
        ValueError: the factory does not start with ``(input_shape, n_classes)``, or has an option
            without a default (every model must build from ``(input_shape, n_classes)`` alone).
    """
    parameters = list(inspect.signature(factory).parameters.values())
    if tuple(p.name for p in parameters[: len(SUPPLIED)]) != SUPPLIED:
        raise ValueError(f"a model factory takes ({', '.join(SUPPLIED)}, **options) first, not {parameters}")
    defaults = {}
    for parameter in parameters[len(SUPPLIED) :]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            raise ValueError(f"model option {parameter.name!r} needs a default")
        defaults[parameter.name] = parameter.default
    return defaults


class ModelRegistry(Registry[Factory]):
    """A :class:`~neurosim.registry.Registry` of model factories that keeps each model's card."""

    def __init__(self) -> None:
        super().__init__("model")
        self._cards: dict[str, ModelCard] = {}

    def register(self, name: str, card: ModelCard | None = None) -> Callable[[Factory], Factory]:
        """Decorator that registers a factory (or class) under ``name`` with its ``card``."""

        def decorate(entry: Factory) -> Factory:
            self.add(name, entry, card)
            return entry

        return decorate

    def add(self, name: str, entry: Factory, card: ModelCard | None = None) -> None:
        """Register ``entry`` under ``name`` with ``card``, its ``defaults`` filled in from the
        factory's signature; raises if the card is missing or does not fit the factory."""
        if card is None:
            raise TypeError(
                f"model {name!r} must be registered with its ModelCard: MODELS.register(name, card)"
            )
        if card.defaults:
            raise ValueError(f"model {name!r}: a card's defaults come from its factory's signature")
        defaults = factory_defaults(entry)
        unknown = sorted(set(card.small_image_options) - set(defaults))
        if unknown:
            raise ValueError(f"model {name!r}: small_image_options names unknown option(s) {unknown}")
        super().add(name, entry)
        self._cards[name] = dataclasses.replace(card, defaults=defaults)

    def card(self, name: str) -> ModelCard:
        """The card of the model called ``name``; unknown names raise :class:`UserError` with choices."""
        self.get(name)
        return self._cards[name]

    def describe(self, pattern: str = "*") -> str:
        """The cards of the models matching ``pattern``, one block each (``neurosim list models -v``)."""
        return "\n\n".join(self.card(name).describe(name) for name in self.list(pattern))


MODELS = ModelRegistry()
