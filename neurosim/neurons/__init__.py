"""Neuron models: pure step functions with NamedTuple state, and thin modules over time."""

from neurosim.neurons.lif import LIF, LIFParams, LIFState, initial_state, lif_step
from neurosim.neurons.surrogate import SURROGATES, surrogate

__all__ = ["LIF", "SURROGATES", "LIFParams", "LIFState", "initial_state", "lif_step", "surrogate"]
