"""What a local rule needs of the layer it trains, declared by the rule and checked before training.

A local rule reads and changes its layer directly (a perceptron's weights and running sums, a
k-means layer's counts, a Neocognitron S-layer's V-cells), so each rule names the layer it
trains as a :class:`LayerNeeds`: a description and the attributes (parameters, buffers,
methods) the rule uses. The trainer checks every plan step's layer against its rule when it is
built (:func:`check_layer`), so a layer that lacks one fails with one line naming what is
missing, before any training, instead of an ``AttributeError`` in the middle of a fit.

The needs are attribute names rather than ``typing.Protocol`` classes because a module's
parameters and buffers live in ``nn.Module``'s own dictionaries: a runtime ``Protocol`` check
that reads attributes statically (Python >= 3.12) would not see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class LayerNeeds:
    """The layer a rule trains: ``description`` in words and the ``attributes`` the rule uses."""

    description: str
    attributes: tuple[str, ...]

    def missing(self, module: nn.Module) -> list[str]:
        """The needed attributes ``module`` lacks (absent, or ``None`` as a bias-free layer's
        ``bias``)."""
        return [name for name in self.attributes if getattr(module, name, None) is None]


#: A layer with a weight matrix or kernel (``nn.Linear``, ``nn.Conv2d``, a readout).
WEIGHTED = LayerNeeds("a layer with a weight", ("weight",))
#: Perceptron units: ``weight [C, D]`` and ``bias [C]``; optionally averaged (``averaged``,
#: ``weight_sum``, ``bias_sum``, ``n_summed``).
PERCEPTRON_UNITS = LayerNeeds("perceptron units", ("weight", "bias"))
#: k-means prototypes: ``weight [K, D]`` and the images each has taken, ``taken [K]``.
PROTOTYPES = LayerNeeds("k-means prototypes", ("weight", "taken"))
#: A Neocognitron S-layer: its kernels, V-cells, response and competition geometry.
S_CELLS = LayerNeeds("a Neocognitron S-layer", ("weight", "v_cells", "response", "c", "radius"))
#: The Neocognitron's top S-cells, which grow a labelled cell per uncovered example.
GROWING_S_CELLS = LayerNeeds(
    "the Neocognitron's top S-cells", ("weight", "v_cells", "response", "c", "labels", "max_cells", "grow")
)

#: Diehl & Cook's spiking layer, which presents images to itself with plasticity on (``learn``).
DIEHL_COOK_LAYER = LayerNeeds(
    "a Diehl & Cook spiking layer", ("weight", "learn", "n_inputs", "n_neurons", "last_stats")
)


def check_layer(group: str, module: nn.Module, rule_name: str, needs: LayerNeeds) -> None:
    """Raise ``TypeError`` (one line) if ``module`` lacks what rule ``rule_name`` needs."""
    missing = needs.missing(module)
    if missing:
        raise TypeError(
            f"rule {rule_name!r} trains {needs.description}, but group {group!r} is a "
            f"{type(module).__name__} without {', '.join(missing)}"
        )
