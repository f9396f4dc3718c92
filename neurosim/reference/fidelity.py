"""Fidelity of neurosim's Diehl & Cook network to the released code's protocol, in distribution.

:mod:`~neurosim.reference.brian2_released_protocol` runs the released training loop in Brian2
(forward Euler, input delays, weight normalisation, re-presentation); neurosim's ``exact`` mode
runs the ``paper`` preset (forward Euler bounded where a step would overshoot, no delays; see
:mod:`neurosim.models.diehl_cook_layer`). Both start from the same input weights and learn from
the same images, with their own random numbers, so they are compared statistically:

- **spikes per image**: the excitatory spike count of each image's accepted presentation, ``[M]``
  per run, pooled over seeds; two-sample Kolmogorov-Smirnov statistic ``D`` and the relative
  difference of the means;
- **re-presentations**: presentations per image minus one, averaged over images;
- **theta**: each neuron's adaptive threshold after the ``M`` images, ``[N]`` per run, pooled;
  KS ``D`` and the relative difference of the mean increase ``theta - theta_start``;
- **winners**: the fraction of neurons that fired at least once (competition's spread).

The **tolerance** (:data:`TOLERANCE`, stated before measuring): the engines agree when the means
of spikes per image and of the theta increase differ by at most 15 %, each KS ``D`` is at most
0.15, re-presentations differ by at most 0.05 per image and the fraction of winners by at most
0.1. These bound what the documented deviations may change (delays shift each input spike by
0-10 ms within a 350 ms presentation; the bound acts only where Euler would overshoot). Two
runs of the port with different random numbers show the noise floor, and deliberately wrong
settings show that the check can fail (``benchmarks/stdp_fidelity.py``; measured in
``docs/repro.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from neurosim.models.diehl_cook_layer import DiehlCookLayer, initial_input_weights, preset
from neurosim.reference.brian2_released_protocol import RELEASED, ReleasedRun

#: Largest differences at which the two engines agree (see the module docstring).
TOLERANCE = {
    "spikes_relative": 0.15,
    "spikes_ks": 0.15,
    "theta_relative": 0.15,
    "theta_ks": 0.15,
    "representations": 0.05,
    "winners": 0.10,
}


def initial_weights(n_inputs: int, n_neurons: int, seed: int) -> np.ndarray:
    """The released code's initial input weights (the layer's initialisation) from ``seed``, as the
    ``[D, N]`` float64 array both engines start from."""
    generator = torch.Generator().manual_seed(seed)
    return initial_input_weights(n_inputs, n_neurons, generator).double().numpy()


def run_neurosim(images: np.ndarray, weight: np.ndarray, seed: int, **constants) -> ReleasedRun:
    """neurosim's ``exact`` mode, ``paper`` preset (with ``constants`` replaced), on ``images [M, D]``
    from ``weight [D, N]`` in one call (state carried from image to image), in float64."""
    layer = DiehlCookLayer(*weight.shape, preset("paper", **constants), mode="exact").double()
    layer.weight.data.copy_(torch.from_numpy(weight))
    generator = torch.Generator().manual_seed(seed)
    counts, learnt = layer.learn(torch.from_numpy(np.asarray(images, dtype=np.float64)), generator)
    p = layer.params
    total = layer.last_stats.input_steps // p.presentation_steps
    # Only the total is kept per call; spread it evenly (the statistics use the mean only).
    presentations = np.full(len(images), total / len(images))
    counts = counts.numpy().astype(np.int64)
    return ReleasedRun(counts, presentations, layer.theta.numpy().copy(), learnt.numpy())


@dataclass
class Fidelity:
    """Statistics of two engines' runs (each pooled over seeds) and whether they agree."""

    summary: dict[str, tuple[float, float]]
    """Per statistic: (engine A, engine B)."""
    difference: dict[str, float]
    """Per tolerance key: the measured difference."""

    @property
    def agrees(self) -> bool:
        return all(self.difference[key] <= limit for key, limit in TOLERANCE.items())


def _pooled(runs: list[ReleasedRun]) -> dict[str, np.ndarray]:
    return {
        "spikes": np.concatenate([r.counts.sum(axis=1) for r in runs]).astype(float),
        "theta_increase": np.concatenate([r.theta - RELEASED["theta_start"] for r in runs]),
        "representations": np.array([np.mean(r.presentations) - 1 for r in runs]),
        "winners": np.array([np.mean(r.counts.sum(axis=0) > 0) for r in runs]),
    }


def compare(a: list[ReleasedRun], b: list[ReleasedRun]) -> Fidelity:
    """Compare engine A's runs with engine B's (one run per seed each)."""
    pa, pb = _pooled(a), _pooled(b)
    summary = {
        "spikes per image, mean": (pa["spikes"].mean(), pb["spikes"].mean()),
        "spikes per image, median": (np.median(pa["spikes"]), np.median(pb["spikes"])),
        "theta - 20 mV, mean": (pa["theta_increase"].mean(), pb["theta_increase"].mean()),
        "theta - 20 mV, max": (pa["theta_increase"].max(), pb["theta_increase"].max()),
        "re-presentations per image": (pa["representations"].mean(), pb["representations"].mean()),
        "neurons that fired": (pa["winners"].mean(), pb["winners"].mean()),
    }
    difference = {
        "spikes_relative": _relative(pa["spikes"].mean(), pb["spikes"].mean()),
        "spikes_ks": float(stats.ks_2samp(pa["spikes"], pb["spikes"]).statistic),
        "theta_relative": _relative(pa["theta_increase"].mean(), pb["theta_increase"].mean()),
        "theta_ks": float(stats.ks_2samp(pa["theta_increase"], pb["theta_increase"]).statistic),
        "representations": abs(pa["representations"].mean() - pb["representations"].mean()),
        "winners": abs(pa["winners"].mean() - pb["winners"].mean()),
    }
    return Fidelity(summary, difference)


def _relative(a: float, b: float) -> float:
    """``|a - b|`` relative to their mean."""
    return float(abs(a - b) / max((abs(a) + abs(b)) / 2, 1e-12))
