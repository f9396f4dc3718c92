"""What a fit measured at each checkpoint, as the trainer records it and the results schema stores
it (:func:`neurosim.results.schema.fit_dataset`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """Per-checkpoint measurements of one fit (lists aligned by checkpoint)."""

    step: list[int] = field(default_factory=list)
    samples_seen: list[int] = field(default_factory=list)
    epoch: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
