"""How probe points are named: a layer's output, and the current before its nonlinearity.

:meth:`neurosim.models.base.NeurosimModel.probe_points` returns an ordered ``{name: module}``,
input side first, whose modules' outputs analyses record with forward hooks. A layer with a
nonlinearity of its own has two names, one right after the other::

    "<layer>.pre"   the current u before the nonlinearity (e.g. u = W x, a convolution's output)
    "<layer>"       the layer's output f(u) after it: what the next layer or the readout sees
                    (RePU relu(u)^n, SoftHebb's K softmax(t u), Triangle, ReLU, tanh; for a
                    convolutional block, after its pooling)

A layer without a separate nonlinearity (a linear readout, a layer of threshold or spiking units
whose module already returns 0/1 outputs or spikes; spike counts are summed over the presentation
by the recorder) has only ``"<layer>"``. Analyses of "what the readout sees" take the names
without the suffix (:func:`outputs`); the currents stay available under ``.pre``.

This module holds only the names, so that model code and the analyses (which must not import
model code at module level) share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Suffix of a probe point that records the current before a layer's nonlinearity.
PRE = ".pre"


def current(layer: str) -> str:
    """The probe name of ``layer``'s current before its nonlinearity: ``"<layer>.pre"``."""
    return layer + PRE


def is_current(name: str) -> bool:
    """Whether probe point ``name`` records a current before a nonlinearity."""
    return name.endswith(PRE)


def layer_of(name: str) -> str:
    """The layer a probe point belongs to: ``"hidden.pre"`` and ``"hidden"`` -> ``"hidden"``."""
    return name.removesuffix(PRE)


def outputs(names: Iterable[str]) -> list[str]:
    """The probe points that record layer outputs (after any nonlinearity), in order."""
    return [name for name in names if not is_current(name)]


def currents(names: Iterable[str]) -> list[str]:
    """The probe points that record currents before a nonlinearity, in order."""
    return [name for name in names if is_current(name)]


def last_hidden(names: Iterable[str], readout: str | None) -> str | None:
    """The last layer output before the class readout: the last of :func:`outputs` that is not
    the layer ``readout`` (``None``: the readout is no probe point); ``None`` when there is none
    (a single-layer perceptron)."""
    hidden = [name for name in outputs(names) if readout is None or layer_of(name) != readout]
    return hidden[-1] if hidden else None
