"""Diehl & Cook (2015)'s constants: every parameter of the network and protocol, the presets and
the layer's option values (the network itself: :mod:`~neurosim.models.diehl_cook_layer`).

P. U. Diehl & M. Cook, "Unsupervised learning of digit recognition using spike-timing-dependent
plasticity", Front. Comput. Neurosci. 9:99 (2015); parameters from the released code
(peter-u-diehl/stdp-mnist, ``Diehl&Cook_spiking_MNIST.py``), listed in
``docs/references/published_results.md`` section 1.2.

Integration: forward Euler for every variable, as Brian 1 integrates the released code's
(nonlinear) equations, with one bound: a membrane step that would overshoot its equilibrium
(``g dt / tau_m > 1``, from ~12 inhibitory spikes in one step onto an excitatory neuron) ends at
it (``integration = "euler"``, the default; :func:`~neurosim.neurons.conductance_lif.integrate`).
Unbounded (``euler_unbounded``), a 400-neuron network on the MNIST subset learnt normally for ~750
images, then fired 25,600 spikes per image and never recovered (a 512-neuron network on digits
likewise). A literal Brian2 port of the released training loop
(:mod:`~neurosim.reference.brian2_released_protocol`) agrees with the exact mode in distribution
(``benchmarks/stdp_fidelity.py``). ``step_averaged`` (each conductance at its mean over the step;
exact for one EPSP, the default of fit version 4) fires ~20 % more spikes per image at 100
neurons, and ``exponential_euler`` (fit version 3) more still; both are options, measured in the
Diehl & Cook repro card.

Deviations from the released code (named here so they are not hidden): no synaptic delays
(input -> excitatory delays of U[0, 10] ms in the code, which change spikes per image by ~5 %;
BindsNET omits them too); the bound above; the network starts every call (a batch of the trainer)
from rest, so the 150 ms rest carries state only between images within a call. All four
integrations are cross-checked against Brian2.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal

import annotated_types as at
import torch

from neurosim.errors import UserError, choices_message
from neurosim.neurons.conductance_lif import EXCITATORY, INHIBITORY, ConductanceLIFParams
from neurosim.options import NonNegativeFloat, NonNegativeInt, PositiveFloat, partial_of

MODES = ("exact", "batched")
#: The batched mode's number of slots when ``batch_size`` is not given: the largest whose mean
#: validation accuracy after one unlabelled pass is within 1 point of one slot's (the exact mode)
#: on digits and on the MNIST 10k subset with 100 neurons, checked on the subset with 400
#: (``benchmarks/stdp_slots.py``; the curves are in ``docs/repro.md``).
BATCHED_SLOTS = 3
COMBINES = ("sum", "mean")
SLOT_PLASTICITY = ("online", "deferred")
SIMULATORS = ("auto", "torch")


def initial_input_weights(
    n_inputs: int, n_neurons: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The released code's initial input weights, ``(U[0, 1) + 0.01) * 0.3``, ``[D, N]`` float32
    (from torch's global generator unless ``generator`` is given)."""
    return (torch.rand(n_inputs, n_neurons, generator=generator) + 0.01) * 0.3


@dataclass(frozen=True)
class DiehlCookParams:
    """Every constant of the network and protocol (ms, mV, Hz)."""

    dt: PositiveFloat = 0.5
    integration: Literal["euler", "euler_unbounded", "step_averaged", "exponential_euler"] = "euler"
    """``euler`` (the released code's forward Euler, bounded where a step would overshoot),
    ``euler_unbounded``, ``step_averaged`` or ``exponential_euler`` (see
    :func:`~neurosim.neurons.conductance_lif.integrate`)."""
    presentation: PositiveFloat = 350.0
    rest: NonNegativeFloat = 150.0
    reset_between_images: bool = False
    """True: the state returns to rest after each image instead of decaying through ``rest``."""
    max_rate: NonNegativeFloat = 63.75
    """Rate of a pixel of intensity 1 at the first presentation (paper: 255 / 8 x intensity 2)."""
    input_total: NonNegativeFloat = 0.0
    """0 (the paper): intensities as given. Above 0, each image is first scaled so that its
    intensities sum to ``input_total`` (for 784 inputs; ``input_total * D / 784`` otherwise), so
    every image drives the network with the same total input rate. Not in the paper, whose
    constants were tuned on MNIST (mean total 103, a pixel at 1 counting 1). Fashion-MNIST's
    totals average 224 and range from 15 (sandals) to 590 (pullovers, coats), and with raw
    intensities the bright classes win most neurons. A stated adaptation for such data, off in
    both presets."""
    rate_increase: NonNegativeFloat = 31.875
    """Added to ``max_rate`` at each re-presentation (paper: intensity + 1)."""
    min_spikes: NonNegativeInt = 5
    """Re-present an image that evoked fewer excitatory spikes (0: never)."""
    max_presentations: Annotated[int, at.Ge(1), at.Le(1000)] = 10
    """Give up after this many presentations of one image (a blank image never evokes a spike)."""
    excitatory: ConductanceLIFParams = EXCITATORY
    inhibitory: ConductanceLIFParams = INHIBITORY
    weight_exc_inh: NonNegativeFloat = 10.4
    weight_inh_exc: NonNegativeFloat = 17.0
    theta_plus: NonNegativeFloat = 0.05
    tau_theta: PositiveFloat = 1e7
    theta_start: NonNegativeFloat = 20.0
    """Adaptive threshold ``theta`` (mV) of every excitatory neuron before learning: the released
    code's 20 mV (``Diehl&Cook_spiking_MNIST.py``, ``theta = ones(n_e) * 20 mV`` in training)."""
    theta_offset: NonNegativeFloat = 20.0
    """Subtracted from every excitatory threshold (mV): a neuron fires when
    ``v > v_thresh + theta - theta_offset`` (the released code's ``offset = 20 mV``). With
    ``theta_start = theta_offset`` the first threshold is ``v_thresh`` (-52 mV); as ``theta``
    decays (``tau_theta``) between spikes, a neuron's resting threshold falls toward
    ``v_thresh - theta_offset`` (-72 mV), so neurons that win rarely become easier to fire.
    ``theta_start = theta_offset = 0`` is BindsNET's (and neurosim's before fit version 3)."""
    tau_pre: PositiveFloat = 20.0
    tau_post1: PositiveFloat = 20.0
    tau_post2: PositiveFloat = 40.0
    nu_pre: NonNegativeFloat = 1e-4
    nu_post: NonNegativeFloat = 1e-2
    w_max: PositiveFloat = 1.0
    weight_sum_784: PositiveFloat = 78.0
    """Normalised sum of a neuron's input weights for 784 inputs (scaled by D / 784)."""

    @property
    def excitatory_firing(self) -> ConductanceLIFParams:
        """The excitatory neurons with the threshold offset applied (``v_thresh - theta_offset``;
        ``theta`` is added per neuron)."""
        return dataclasses.replace(self.excitatory, threshold=self.excitatory.threshold - self.theta_offset)

    @property
    def presentation_steps(self) -> int:
        return round(self.presentation / self.dt)

    @property
    def rest_steps(self) -> int:
        return round(self.rest / self.dt)


#: A ``constants`` table: any of the scalar constants above, each checked against its type.
DiehlCookConstants = partial_of(DiehlCookParams)

#: ``paper``: Diehl & Cook's released code. ``bindsnet_protocol``: BindsNET's ``eth_mnist.py``
#: protocol (dt 1 ms, 250 ms per image and a state reset instead of rest, 128 Hz maximum rate, no
#: re-presentation, weights normalised to 78.4, thresholds from 0 without an offset) on Diehl &
#: Cook's neurons. It is not BindsNET's
#: network (its neuron and synapse models differ), so its accuracy is not comparable with
#: BindsNET's published numbers.
PRESETS = {
    "paper": DiehlCookParams(),
    "bindsnet_protocol": DiehlCookParams(
        dt=1.0,
        presentation=250.0,
        rest=0.0,
        reset_between_images=True,
        max_rate=128.0,
        rate_increase=0.0,
        min_spikes=0,
        max_presentations=1,
        weight_sum_784=78.4,
        theta_start=0.0,
        theta_offset=0.0,
        # Kept from fit version 4 (BindsNET's own neurons decay exactly; not re-measured with Euler).
        integration="step_averaged",
    ),
}


def preset(name: str, **overrides) -> DiehlCookParams:
    """A preset with some constants replaced; unknown names list the valid ones."""
    if name not in PRESETS:
        raise UserError(choices_message("preset", name, tuple(PRESETS)))
    fields = {f.name for f in dataclasses.fields(DiehlCookParams)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise UserError(f"unknown Diehl & Cook constant(s) {unknown}; valid: {', '.join(sorted(fields))}")
    params = dataclasses.replace(PRESETS[name], **overrides)
    if params.presentation_steps < 1:
        raise UserError(
            f"Diehl & Cook: presentation ({params.presentation} ms) must last at least one step "
            f"(dt = {params.dt} ms)"
        )
    return params


def check_options(
    mode: str, batch_size: int | None, batch_combine: str, slot_plasticity: str, simulator: str
) -> None:
    """A :class:`UserError` naming the valid choices for an unknown or inconsistent option."""
    if mode not in MODES:
        raise UserError(choices_message("mode", mode, MODES))
    if batch_combine not in COMBINES:
        raise UserError(choices_message("batch_combine", batch_combine, COMBINES))
    if slot_plasticity not in SLOT_PLASTICITY:
        raise UserError(choices_message("slot_plasticity", slot_plasticity, SLOT_PLASTICITY))
    if simulator not in SIMULATORS:
        raise UserError(choices_message("simulator", simulator, SIMULATORS))
    if mode == "exact" and slot_plasticity != "online":
        raise UserError(
            "the exact mode changes the weights online; slot_plasticity 'deferred' needs mode 'batched'"
        )
    if mode == "exact" and batch_size not in (None, 1):
        raise UserError(
            f"batch_size {batch_size} is the batched mode's number of slots; the exact mode (the"
            " default, the paper's sequential algorithm) presents one image at a time: set"
            " mode = 'batched' to simulate several at once"
        )
