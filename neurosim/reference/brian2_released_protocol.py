"""A literal Brian2 port of Diehl & Cook's released training script, for the fidelity check.

The released code (github.com/peter-u-diehl/stdp-mnist, ``Diehl&Cook_spiking_MNIST.py``, Brian 1,
training mode) trains the network one image at a time from a Python loop. This module repeats
that loop in Brian2, step for step of the protocol, so that neurosim's network
(:mod:`neurosim.models.diehl_cook_layer`) can be compared with the paper's algorithm *as
released*, not with neurosim's own choices (``benchmarks/stdp_fidelity.py``,
``tests/test_brian2_fidelity.py``). What the port keeps from the released code, line by line:

- **Neurons**: conductance LIF, forward Euler (Brian 1's default state updater for these
  equations), dt = 0.5 ms::

      tau_e dv/dt = (v_rest_e - v) + ge (0 mV - v) + gi (-100 mV - v),   tau_e = 100 ms
      tau_i dv/dt = (v_rest_i - v) + ge (0 mV - v) + gi (-85 mV - v),    tau_i = 10 ms
      dge/dt = -ge / 1 ms,   dgi/dt = -gi / 2 ms,   dtheta/dt = -theta / 1e7 ms

  excitatory spike when ``v > theta - 20 mV + (-52 mV)``, reset to -65 mV and ``theta += 0.05
  mV``, refractory 5 ms; inhibitory at -40 mV, reset -45 mV, refractory 2 ms. ``theta`` starts
  at 20 mV; the membranes start 40 mV below rest (``v_rest - 40 mV``), as the script sets them.
  The script also gates the excitatory threshold by a timer (``dtimer/dt = 100.0 : ms``, reset to
  0 at a spike, ``timer > 5 ms``); in Brian 1's SI units the timer passes 5 ms one step after a
  spike, and Brian2 already suppresses threshold crossings while a neuron is refractory, so the
  port uses the 5 ms refractory period alone.
- **Synapses**: input -> excitatory all to all with weights from the caller (the script's
  ``random/XeAe.npy`` is ``(U[0, 1) + 0.01) * 0.3``, neurosim's initialisation) and **delays drawn
  once from U[0, 10] ms** (``delay['ee_input']``); excitatory j -> inhibitory j with 10.4;
  inhibitory k -> excitatory j != k with 17.0 (``AeAi``, ``AiAe``).
- **STDP** (``eqs_stdp_ee``): traces pre (20 ms), post1 (20 ms), post2 (40 ms); a presynaptic
  spike (arriving after its delay) sets ``pre = 1`` and depresses by ``1e-4 * post1``; a
  postsynaptic spike potentiates by ``0.01 * pre * post2`` (post2 before this spike), then sets
  post1 = post2 = 1; weights clipped to [0, 1]. Traces are event-driven (exact), as Brian 1's STDP.
- **Protocol** (the script's main loop): before every presentation each neuron's input weights
  are scaled to sum to 78 (``normalize_weights``); input rates are ``pixel / 8 * intensity`` Hz
  (pixel in 0..255, intensity 2, so 63.75 Hz at full intensity) for 350 ms; if the excitatory
  neurons fired fewer than 5 spikes, intensity += 1 and the image is shown again after 150 ms of
  silence, with no limit; else 150 ms of silence and the next image at intensity 2. The network
  state carries over from image to image (one network for the whole run).

Not ported (nothing in training depends on them): plotting, the periodic label assignment,
saving weights. Brian2 draws its own random numbers, so the port and neurosim agree in
distribution, not spike for spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The released rule, as the spike-for-spike reference writes it (eqs_stdp_ee, pre and post).
from neurosim.extras import require
from neurosim.reference.brian2_diehl_cook import STDP_MODEL, STDP_ON_POST, STDP_ON_PRE, weights_of

#: The released script's constants (training mode), in its units (mV, ms, Hz).
RELEASED = {
    "v_rest_e": -65.0, "v_reset_e": -65.0, "v_thresh_e": -52.0, "refrac_e": 5.0, "tau_e": 100.0,
    "v_rest_i": -60.0, "v_reset_i": -45.0, "v_thresh_i": -40.0, "refrac_i": 2.0, "tau_i": 10.0,
    "E_inh_e": -100.0, "E_inh_i": -85.0, "tau_ge": 1.0, "tau_gi": 2.0,
    "theta_start": 20.0, "theta_offset": 20.0, "theta_plus": 0.05, "tau_theta": 1e7,
    "tau_pre": 20.0, "tau_post1": 20.0, "tau_post2": 40.0, "nu_pre": 1e-4, "nu_post": 1e-2,
    "w_max": 1.0, "weight_sum": 78.0, "w_exc_inh": 10.4, "w_inh_exc": 17.0, "max_delay": 10.0,
    "dt": 0.5, "presentation": 350.0, "rest": 150.0, "start_intensity": 2.0, "min_spikes": 5,
}  # fmt: skip

EXCITATORY = """
dv/dt = ((v_rest_e - v) + ge * (-v) + gi * (E_inh_e - v)) / tau_e : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
dtheta/dt = -theta / tau_theta : volt
"""
INHIBITORY = """
dv/dt = ((v_rest_i - v) + ge * (-v) + gi * (E_inh_i - v)) / tau_i : volt (unless refractory)
dge/dt = -ge / tau_ge : 1
dgi/dt = -gi / tau_gi : 1
"""


@dataclass
class ReleasedRun:
    """What the ported training loop produced over ``M`` images."""

    counts: np.ndarray
    """Excitatory spike counts of each image's accepted (last) presentation, ``[M, N]``."""
    presentations: np.ndarray
    """Presentations each image needed (1 = no re-presentation), ``[M]``."""
    theta: np.ndarray
    """Adaptive thresholds after the last image, mV, ``[N]``."""
    weight: np.ndarray
    """Input weights after the last image, ``[D, N]``."""


def _namespace() -> dict:
    """The constants the equations name, with Brian's units."""
    from brian2 import ms, mV

    units = {
        mV: ("v_rest_e", "v_reset_e", "v_thresh_e", "v_rest_i", "v_reset_i", "v_thresh_i", "E_inh_e",
             "E_inh_i", "theta_offset", "theta_plus"),
        ms: ("tau_e", "tau_i", "tau_ge", "tau_gi", "tau_theta", "tau_pre", "tau_post1", "tau_post2"),
        1: ("nu_pre", "nu_post", "w_max", "w_exc_inh", "w_inh_exc"),
    }  # fmt: skip
    return {name: RELEASED[name] * unit for unit, names in units.items() for name in names}


def _build(weight: np.ndarray, delays: np.ndarray | None):
    from brian2 import Hz, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses, ms, mV

    c = RELEASED
    d, n = weight.shape
    inputs = PoissonGroup(d, rates=np.zeros(d) * Hz, name="inputs")
    excitatory = NeuronGroup(
        n, EXCITATORY, threshold="v > theta - theta_offset + v_thresh_e",
        reset="v = v_reset_e; theta += theta_plus", refractory=c["refrac_e"] * ms, method="euler",
        name="excitatory",
    )  # fmt: skip
    inhibitory = NeuronGroup(
        n, INHIBITORY, threshold="v > v_thresh_i", reset="v = v_reset_i",
        refractory=c["refrac_i"] * ms, method="euler", name="inhibitory",
    )  # fmt: skip
    excitatory.v, inhibitory.v = (c["v_rest_e"] - 40) * mV, (c["v_rest_i"] - 40) * mV
    excitatory.theta = c["theta_start"] * mV
    synapses = Synapses(
        inputs, excitatory, STDP_MODEL, on_pre=STDP_ON_PRE, on_post=STDP_ON_POST, name="input"
    )
    synapses.connect()  # source-major: synapse k joins input k // N to neuron k % N
    synapses.w = weight.ravel()
    if delays is not None:
        synapses.delay = delays.ravel() * ms
    exc_inh = Synapses(excitatory, inhibitory, on_pre="ge_post += w_exc_inh", name="exc_inh")
    exc_inh.connect(j="i")
    inh_exc = Synapses(inhibitory, excitatory, on_pre="gi_post += w_inh_exc", name="inh_exc")
    inh_exc.connect(condition="i != j")
    monitor = SpikeMonitor(excitatory, record=False, name="excitatory_spikes")
    return inputs, excitatory, synapses, [inputs, excitatory, inhibitory, synapses, exc_inh, inh_exc, monitor]


def run_released_protocol(
    images: np.ndarray,
    weight: np.ndarray,
    seed: int,
    delays: bool = True,
    target: str = "cython",
    max_presentations: int = 100,
) -> ReleasedRun:
    """Train on ``images [M, D]`` (intensities in [0, 1], i.e. pixel / 255) from the input weights
    ``weight [D, N]`` with the released script's loop; Brian2's random numbers (Poisson inputs,
    delays) from ``seed``. ``max_presentations`` only guards against a blank image (the script
    would loop forever on one); no MNIST digit comes near it."""
    brian2 = require("reference")
    from brian2 import Hz, Network, defaultclock, ms, prefs, start_scope

    start_scope()
    prefs.codegen.target = target
    brian2.seed(seed)
    c = RELEASED
    defaultclock.dt = c["dt"] * ms
    namespace = _namespace()
    # The script draws each input synapse's delay once, uniformly in [0, 10] ms.
    delay = np.random.default_rng(seed).uniform(0, c["max_delay"], weight.shape) if delays else None
    inputs, excitatory, synapses, objects = _build(np.asarray(weight, dtype=np.float64), delay)
    network = Network(*objects)
    monitor = objects[-1]
    shape = weight.shape
    counts = np.zeros((len(images), shape[1]), dtype=np.int64)
    presentations = np.zeros(len(images), dtype=np.int64)
    previous = np.zeros(shape[1], dtype=np.int64)
    for index, image in enumerate(np.asarray(images, dtype=np.float64)):
        intensity = c["start_intensity"]
        while True:
            current = weights_of(synapses, shape)  # normalize_weights(): columns sum to 78
            synapses.w = (current * (c["weight_sum"] / current.sum(axis=0))).ravel()
            inputs.rates = image * 255.0 / 8.0 * intensity * Hz
            network.run(c["presentation"] * ms, namespace=namespace)
            total = np.asarray(monitor.count[:])
            evoked, previous = total - previous, total.copy()
            presentations[index] += 1
            inputs.rates = 0 * Hz
            network.run(c["rest"] * ms, namespace=namespace)
            if evoked.sum() >= c["min_spikes"] or presentations[index] >= max_presentations:
                break
            intensity += 1
        # As the script: the count restarts after the presentation, so a spike in the silence
        # (rare: the input has stopped) is counted with the next presentation.
        counts[index] = evoked
    theta = np.asarray(excitatory.theta_[:]) * 1e3  # V -> mV
    return ReleasedRun(counts, presentations, theta, weights_of(synapses, shape))
