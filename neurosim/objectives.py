"""Training objectives by name: what a fit's ``train_loss`` curve measures.

The model or rule that defines an objective registers its name and a one-line description where
it defines it (:func:`objective`); a fit stores the description with its ``train_loss``, so a
report needs no code to explain the curve. A fit whose objective is not registered is refused
before training (:func:`describe`), not found missing after it.
"""

from __future__ import annotations

from neurosim.registry import Registry

OBJECTIVES: Registry[str] = Registry("training objective")


def objective(name: str, description: str) -> str:
    """Register ``name`` with what it measures; returns ``name`` (for a class attribute)."""
    OBJECTIVES.add(name, description)
    return name


#: Backprop's objective and every model's default (:attr:`~neurosim.models.NeurosimModel.loss_name`).
CROSS_ENTROPY = objective(
    "cross_entropy", "mean cross-entropy of the training batches since the previous checkpoint"
)


def describe(name: str) -> str:
    """The registered description of an objective; an unknown name raises UserError listing the
    registered ones."""
    return OBJECTIVES.get(name)
