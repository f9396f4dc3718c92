"""The spiking layer of Diehl & Cook (2015): Poisson inputs -> excitatory <-> inhibitory neurons.

P. U. Diehl & M. Cook, "Unsupervised learning of digit recognition using spike-timing-dependent
plasticity", Front. Comput. Neurosci. 9:99 (2015); parameters from the released code
(peter-u-diehl/stdp-mnist, ``Diehl&Cook_spiking_MNIST.py``), listed in
``docs/references/published_results.md`` section 1.2 and in :data:`PRESETS`.

Network, per image (``D`` inputs, ``N`` excitatory and ``N`` inhibitory neurons)::

    input i: Poisson spikes at rate  r_i = x_i * max_rate   (x in [0, 1]; 63.75 Hz = 255 / 4)
    input -> excitatory: all to all, weights W [D, N] in [0, 1], learnt by STDP (rules/stdp.py)
    excitatory j -> inhibitory j: one to one, conductance 10.4
    inhibitory k -> excitatory j != k: all but self, conductance 17.0
    neurons: conductance LIF (neurons/conductance_lif.py); excitatory ones fire at
             v > -52 mV + theta - 20 mV, the adaptive threshold theta starting at 20 mV
             (+0.05 mV per spike, tau 1e7 ms), frozen when not learning

Protocol: 350 ms of input, then 150 ms of rest (no input; the state decays and carries over to the
next image); dt = 0.5 ms, so 1000 steps per image. An image that evoked fewer than 5 excitatory
spikes is presented again with the maximum rate raised by 255 / 8 Hz (``rate_increase``). Before
every presentation during learning, each neuron's incoming weights are normalised to sum to 78
(for 784 inputs; ``78 * D / 784`` for other input sizes, the same mean weight). The output of a
presentation is each excitatory neuron's spike count during the 350 ms of input.

**Modes** (the ``mode`` option):

- ``exact`` (the default): the paper's sequential algorithm. One image at a time; STDP changes the
  weights at every time step; each presentation sees the weights the previous one left.
  Cross-checked against a Brian2 implementation of the same equations
  (``neurosim/reference/brian2_diehl_cook``).
- ``batched``: a mini-batch approximation, for speed where many images at once pay (a GPU):
  ``batch_size`` images (:data:`BATCHED_SLOTS` unless given) are simulated at once, as independent
  *slots* that start
  from the same weights and thresholds. How a slot's STDP acts during its presentation is
  ``slot_plasticity``:

  - ``online`` (default): each slot has its own copy of the weights, changed at every step by its
    own STDP exactly as batch 1 changes the weights, so within its presentation each slot *is*
    the paper's algorithm (the winner's weights grow while it fires, so it fires more and learns
    more from its image); with one slot this is the exact mode, step for step.
  - ``deferred``: the slots share the weights, fixed during the presentation; each slot's STDP
    changes are accumulated and applied afterwards. Faster (the input drive of a whole chunk of
    steps is one sparse matrix product), but the winner cannot strengthen during its image.

  On Fashion-MNIST's first 10k images (100 neurons, seed 0, issue #4), batch 1 reached 0.631,
  100 online slots 0.621 and 100 deferred slots 0.608; with ``input_total = 224``, 0.655, 0.680
  and 0.653. Online slots hold ``S x D x N`` weights (100 x 784 x 400 floats: 125 MB).

  After the presentation the slots' weight changes are combined (``batch_combine``: ``sum``
  applies every image's change, as if the images had come one after another without seeing each
  other's change; ``mean`` divides it by the number of slots); thresholds always add up every
  spike, and decay over the time the sequential algorithm would have taken (one presentation per
  slot, not one for all of them). Slots stream through the images: a slot whose image needs
  re-presentation keeps it, the others take the next image.

Without learning (evaluation) both modes give the same spikes for the same random numbers; the
batched simulation is used.

**Simulators** (``simulator``): on a CPU, ``auto`` runs online and evaluation presentations
through :mod:`~neurosim.models.diehl_cook_kernel` (the same steps compiled into one loop per slot,
bit for bit the same results, ~100x faster with one slot); on a CUDA device through
:mod:`~neurosim.models.diehl_cook_cuda` (the same step as one CUDA kernel, a thread block per
slot; float32 layers), or the torch simulation with a warning where that kernel cannot compile;
``torch`` always runs the tensor simulation below. Deferred slots always run in torch.

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

Shapes: images ``[M, D]`` in [0, 1]; weights ``[D, N]``; spike counts ``[M, N]``.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass
from typing import Annotated, Literal

import annotated_types as at
import torch
from torch import nn

from neurosim.encoders import bernoulli_spike_events
from neurosim.errors import UserError, choices_message
from neurosim.neurons.conductance_lif import (
    EXCITATORY,
    INHIBITORY,
    ConductanceLIFParams,
    decay_threshold,
    euler_constants,
    initial_state,
    integrate,
    reset,
    stacked,
    threshold_crossings,
)
from neurosim.options import NonNegativeFloat, NonNegativeInt, PositiveFloat, partial_of
from neurosim.rules.stdp import depressed, normalise_columns, potentiated, trace_decay

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
        raise UserError(choices_message("preset", name, PRESETS))
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


class _Slots:
    """The state of ``S`` simulation slots: neurons (excitatory then inhibitory, ``[S, 2N]``),
    thresholds ``[S, 2N]`` (0 for inhibitory neurons) and STDP traces."""

    def __init__(self, population: ConductanceLIFParams, theta: torch.Tensor, n_slots: int, n_inputs: int):
        self.population = population
        self.neurons = initial_state(population, (n_slots, 2 * len(theta)), device=theta.device)
        self.theta = theta.new_zeros(n_slots, 2 * len(theta))
        self.theta[:, : len(theta)] = theta
        self.pre = theta.new_zeros(n_slots, n_inputs)
        self.post1 = theta.new_zeros(n_slots, len(theta))
        self.post2 = theta.new_zeros(n_slots, len(theta))

    def keep(self, index: torch.Tensor) -> None:
        """Only the slots ``index`` go on."""
        self.neurons = type(self.neurons)(*(tensor[index] for tensor in self.neurons))
        for name in ("theta", "pre", "post1", "post2"):
            setattr(self, name, getattr(self, name)[index])

    def to_rest(self, theta: torch.Tensor) -> None:
        """Every slot back at rest, with the thresholds ``theta [N]`` and no traces."""
        n_slots, n_all = self.theta.shape
        self.neurons = initial_state(self.population, (n_slots, n_all), device=theta.device)
        self.theta.zero_()[:, : len(theta)] = theta
        for trace in (self.pre, self.post1, self.post2):
            trace.zero_()


class DiehlCookLayer(nn.Module):
    """Input weights ``W [D, N]`` (learnt by STDP) and thresholds ``theta [N]`` of the network.

    ``forward(x [M, D]) -> spike counts [M, N]`` with plasticity off; :meth:`learn` presents
    images with plasticity on. Both draw Poisson spikes from ``generator`` when given, else from
    torch's global generator; :meth:`forward` seeds its own (``encoding_seed``) so that a stored
    network gives the same counts on every call.
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        params: DiehlCookParams,
        mode: str = "exact",
        batch_size: int | None = None,
        batch_combine: str = "sum",
        chunk_steps: int = 50,
        encoding_seed: int = 0,
        slot_plasticity: str = "online",
        simulator: str = "auto",
    ) -> None:
        super().__init__()
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
        self.params, self.mode, self.batch_combine = params, mode, batch_combine
        self.slot_plasticity, self.simulator = slot_plasticity, simulator
        self.batch_size = 1 if mode == "exact" else int(batch_size or BATCHED_SLOTS)
        self.chunk_steps, self.encoding_seed = int(chunk_steps), int(encoding_seed)
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.weight_sum = params.weight_sum_784 * n_inputs / 784
        self.weight = nn.Parameter(initial_input_weights(n_inputs, n_neurons), requires_grad=False)
        self.register_buffer("theta", torch.full((n_neurons,), float(params.theta_start)))
        self._tables: dict = {}  # the compiled kernel's constant tables (_kernel_tables)
        #: What the last call of :meth:`present` simulated (slot-steps, spikes), for operation counts.
        self.last_run = dict.fromkeys(
            ("steps", "input_steps", "input_spikes", "excitatory_spikes", "inhibitory_spikes"), 0
        )

    operation_kind = "spiking"

    def operation_counts(self, x: torch.Tensor, counts: torch.Tensor) -> dict[str, int]:
        """The last call's work (every presentation, re-presentations and rest included): each
        input spike adds its weight to N conductances, each excitatory spike one (E -> I), each
        inhibitory spike N - 1 (I -> E); every neuron is updated every step. ``dense_macs``: an
        input layer evaluated densely at every input step instead.

        Memory events (see :mod:`neurosim.metrics.operations`): only the input synapses are stored
        weights (E -> I and I -> E are one constant each); every AC read-modify-writes its target's
        conductance, every neuron update its state, and every spike is written out."""
        stats, n = self.last_run, self.n_neurons
        acs = stats["input_spikes"] * n + stats["excitatory_spikes"] + stats["inhibitory_spikes"] * (n - 1)
        updates = stats["steps"] * 2 * n
        spikes = stats["excitatory_spikes"] + stats["inhibitory_spikes"]
        return {
            "dense_macs": stats["input_steps"] * self.n_inputs * n,
            "effective_acs": acs,
            "neuron_updates": updates,
            "spikes": spikes,
            "weight_reads": stats["input_spikes"] * n,
            "input_reads": stats["input_spikes"],
            "state_reads": acs + updates,
            "state_writes": acs + updates,
            "output_writes": spikes,
            "weight_elements": self.n_inputs * n,
            "input_elements": self.n_inputs,
            "state_elements": 2 * n,
        }

    def learning_operation_counts(self) -> dict[str, int]:
        """The simulation work of the last :meth:`learn` call, as :meth:`operation_counts` (its
        plasticity updates are counted by the rule, :class:`~neurosim.rules.stdp.DiehlCookSTDPRule`)."""
        return self.operation_counts(self.weight, self.theta)

    def extra_repr(self) -> str:
        return (
            f"{self.n_inputs} -> {self.n_neurons}, mode={self.mode}, batch_size={self.batch_size}, "
            f"slot_plasticity={self.slot_plasticity}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator(device=x.device).manual_seed(self.encoding_seed)
        counts, _ = self.present(x.flatten(1), learning=False, generator=generator)
        return counts

    @torch.no_grad()
    def learn(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Present ``x [M, D]`` with plasticity on. Updates ``theta`` in place and returns the spike
        counts ``[M, N]`` and the new weights (``self.weight`` itself is left to the optimiser)."""
        return self.present(x, learning=True, generator=generator)

    @torch.no_grad()
    def present(
        self, x: torch.Tensor, learning: bool, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stream the images ``x [M, D]`` through ``batch_size`` slots (see the module docstring);
        returns the spike counts ``[M, N]`` and the weights after learning."""
        p, device = self.params, x.device
        n, m = self.n_neurons, len(x)
        if p.input_total > 0:
            total = p.input_total * self.n_inputs / 784
            x = x * (total / x.sum(dim=1, keepdim=True).clamp_min(1e-12))
        population = stacked([(p.excitatory_firing, n), (p.inhibitory, n)], device=device)
        weight = self.weight.detach().clone()
        n_slots = min(self.batch_size, m)
        slots = _Slots(population, self.theta, n_slots, self.n_inputs)
        image = torch.arange(n_slots, device=device)  # each slot's image (-1: done, dropped)
        presentations = torch.zeros(n_slots, dtype=torch.int64, device=device)
        next_image = n_slots
        counts_out = torch.zeros(m, n, device=device, dtype=x.dtype)
        self.last_run = dict.fromkeys(self.last_run, 0)
        while len(image):
            if learning:
                weight = normalise_columns(weight, self.weight_sum)
            boost = p.max_rate + presentations.unsqueeze(1) * p.rate_increase
            rate = x[image] * boost
            n_busy = len(image)
            counts, weight = self._presentation(slots, population, rate, weight, learning, generator, n_busy)
            self.last_run["steps"] += n_busy * (p.presentation_steps + p.rest_steps)
            self.last_run["input_steps"] += n_busy * p.presentation_steps
            if learning:
                # Each slot started from the shared thresholds and all their spikes count (with one
                # slot, these are just its thresholds). The sequential algorithm would have taken
                # one presentation per busy slot, one after another: the shared thresholds decay
                # over all of that time (tau_theta = 1e4 s is ~20,000 presentations, so over an
                # epoch the decay is what bounds theta; over one presentation it would not be).
                steps = p.presentation_steps + p.rest_steps
                factor = decay_threshold(1.0, p.tau_theta, p.dt, p.integration)  # per step
                increments = slots.theta[:, :n] - self.theta * factor**steps
                self.theta.mul_(factor ** (steps * n_busy)).add_(increments.sum(dim=0))
                slots.theta[:, :n] = self.theta
            presentations += 1
            done = (counts.sum(dim=1) >= p.min_spikes) | (presentations >= p.max_presentations)
            counts_out[image[done]] = counts[done]
            # Finished slots take the next images; the others present theirs again, brighter. Slots
            # left without an image are dropped (the stream's tail, re-presentations).
            finished = done.nonzero().squeeze(1)
            n_new = min(len(finished), m - next_image)
            image[finished] = -1
            image[finished[:n_new]] = torch.arange(next_image, next_image + n_new, device=device)
            presentations[finished] = 0
            next_image += n_new
            if not bool((image >= 0).all()):
                index = (image >= 0).nonzero().squeeze(1)
                slots.keep(index)
                image, presentations = image[index], presentations[index]
            if p.reset_between_images:
                slots.to_rest(self.theta)
        return counts_out, weight

    @torch.no_grad()
    def run_spike_train(
        self, spike_steps: torch.Tensor, spike_inputs: torch.Tensor, learning: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One presentation of given input spikes (input ``spike_inputs[k]`` fires at step
        ``spike_steps[k]``) to one slot from rest, with no normalisation or re-presentation (for
        cross-checks with other simulators). Returns the counts ``[N]`` during the input and the
        weights after the presentation and rest; ``theta`` is updated in place when learning."""
        p, n = self.params, self.n_neurons
        population = stacked([(p.excitatory_firing, n), (p.inhibitory, n)], device=self.weight.device)
        slots = _Slots(population, self.theta, 1, self.n_inputs)
        rate = self.weight.new_zeros(1, self.n_inputs)
        weight = self.weight.detach().clone()
        events = (spike_steps, spike_inputs)
        counts, weight = self._presentation(slots, population, rate, weight, learning, None, 1, events)
        if learning:
            self.theta.copy_(slots.theta[0, :n])
        return counts[0], weight

    def _combined(self, weight: torch.Tensor, change: torch.Tensor, n_images: int) -> torch.Tensor:
        """The batch's combined change applied (``batch_combine``), clipped to ``[0, w_max]``."""
        if self.batch_combine == "mean":
            change = change / max(n_images, 1)
        return (weight + change).clamp_(0.0, self.params.w_max)

    def _compiled(self, device: torch.device, deferred: bool) -> bool:
        """Whether this presentation runs a compiled kernel, with ``simulator = "auto"`` and online
        (or no) plasticity: on the CPU :mod:`.diehl_cook_kernel`; on a CUDA device
        :mod:`.diehl_cook_cuda` (float32 layers of at most its ``MAX_NEURONS``)."""
        if self.simulator != "auto" or deferred:
            return False
        if device.type == "cpu":
            return _compiled_available()
        float32 = self.weight.dtype == torch.float32 and self.theta.dtype == torch.float32
        return device.type == "cuda" and float32 and _cuda_kernel_available(self.n_neurons)

    def _kernel_tables(self, population: ConductanceLIFParams, neuron_dtype, trace_dtype, device) -> tuple:
        """The compiled kernels' constant tables for this layer's parameters, as tensors on
        ``device``: the population's in the neurons' dtype, the scalars in the traces' (the
        weights'). Built once per dtypes and device, not at every presentation (one image in the
        exact mode); the parameters and the population are fixed for the layer's life, so these
        are the whole key."""
        from neurosim.models import diehl_cook_kernel as kernel

        key = (neuron_dtype, trace_dtype, device)
        if key not in self._tables:
            p = self.params
            constants = euler_constants(population, p.dt, p.integration)
            theta_decay = decay_threshold(1.0, p.tau_theta, p.dt, p.integration)
            as_numpy = {dtype: torch.zeros((), dtype=dtype).numpy().dtype for dtype in key[:2]}
            population_table = kernel.population_table(population, constants, as_numpy[neuron_dtype])
            scalar_table = kernel.scalar_table(p, theta_decay, as_numpy[trace_dtype])
            self._tables[key] = (
                torch.from_numpy(population_table).to(device),
                torch.from_numpy(scalar_table).to(device),
            )
        return self._tables[key]

    def _compiled_presentation(
        self,
        slots: _Slots,
        population: ConductanceLIFParams,
        weight: torch.Tensor,
        learning: bool,
        events: tuple[torch.Tensor, torch.Tensor],
        n_images: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_presentation` by a compiled kernel: the same steps, slots in parallel. The
        state tensors are shared with the kernel (same memory), so it updates them."""
        from neurosim.models import diehl_cook_kernel as kernel

        p, n, d, device = self.params, self.n_neurons, self.n_inputs, weight.device
        n_slots = slots.theta.shape[0]
        step_of, index_of = events
        slot_of = index_of // d
        # Stable: within a step the inputs keep their order, so the drive sums alike on every device.
        order = torch.argsort(slot_of * p.presentation_steps + step_of, stable=True)
        offsets = torch.zeros(n_slots + 1, dtype=torch.int64, device=device)
        offsets[1:] = torch.bincount(slot_of, minlength=n_slots).cumsum(0)
        slot_weight = weight.expand(n_slots, d, n).clone() if learning else weight.unsqueeze(0).contiguous()
        slots.neurons = type(slots.neurons)(*(tensor.contiguous() for tensor in slots.neurons))
        for name in ("theta", "pre", "post1", "post2"):
            setattr(slots, name, getattr(slots, name).contiguous())
        counts = torch.zeros(n_slots, n, dtype=weight.dtype, device=device)
        fired = torch.zeros(n_slots, 2 * n, dtype=torch.int64, device=device)
        state = (*slots.neurons, slots.theta, slots.pre, slots.post1, slots.post2)
        tables = self._kernel_tables(population, state[0].dtype, state[-1].dtype, device)
        arrays = (slot_weight, *state, offsets, step_of[order], index_of[order] % d, counts, fired, *tables)
        constants = (kernel.METHOD_CODES[p.integration], learning, p.presentation_steps)
        constants += (p.presentation_steps + p.rest_steps,)
        if device.type == "cuda":
            from neurosim.models import diehl_cook_cuda

            diehl_cook_cuda.present_tensors(arrays, constants)
        else:
            threads = torch.get_num_threads()  # the share neurosim.threads gave this process
            kernel.use_threads(threads)
            kernel.present_slots(*(array.numpy() for array in arrays), *constants)
            # numba's OpenMP threading layer starts its pool with every core and so resets the
            # OpenMP thread count that torch shares with it: torch keeps its own.
            torch.set_num_threads(threads)
        if learning:
            weight = self._combined(weight, slot_weight.sub_(weight).sum(dim=0), n_images)
        self.last_run["input_spikes"] += len(step_of)
        self.last_run["excitatory_spikes"] += int(fired[:, :n].sum())
        self.last_run["inhibitory_spikes"] += int(fired[:, n:].sum())
        return counts, weight

    def _presentation(
        self,
        slots: _Slots,
        population: ConductanceLIFParams,
        rate: torch.Tensor,
        weight: torch.Tensor,
        learning: bool,
        generator: torch.Generator | None,
        n_images: int = 1,
        events: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One presentation (input, then rest) of every slot; returns the counts during the input
        ``[S, N]`` and the weights after it. ``n_images``: busy slots (``batch_combine = "mean"``
        divides by it); ``events``: given input spikes (step, slot * D + input) instead of Poisson
        spikes at ``rate``."""
        p = self.params
        online = learning and self.slot_plasticity == "online"  # the exact mode is always online
        deferred = learning and not online
        n_slots, n, d = rate.shape[0], self.n_neurons, self.n_inputs
        if events is None:
            events = bernoulli_spike_events(rate * (p.dt / 1000.0), p.presentation_steps, generator)
        if self._compiled(rate.device, deferred):
            return self._compiled_presentation(slots, population, weight, learning, events, n_images)
        constants = euler_constants(population, p.dt, p.integration)
        decay = (trace_decay(p.dt, p.tau_pre), trace_decay(p.dt, p.tau_post1), trace_decay(p.dt, p.tau_post2))
        theta_plus = torch.cat([torch.full((n,), p.theta_plus), torch.zeros(n)]).to(rate.device)
        step_of, index_of = events
        step_slot, source = step_of * n_slots + index_of // d, index_of % d
        order = torch.argsort(step_slot)  # time order, so a chunk's spikes are one slice
        step_slot, source = step_slot[order], source[order]
        chunk_bounds = torch.searchsorted(
            step_slot,
            torch.arange(0, p.presentation_steps + self.chunk_steps, self.chunk_steps, device=rate.device)
            * n_slots,
        ).tolist()
        post1_history = rate.new_empty(self.chunk_steps, n_slots, n)
        input_chunk = rate.new_empty(self.chunk_steps, n_slots, d)
        potentiating = rate.new_empty(self.chunk_steps, n_slots, n)  # s_post * x_post2 (before the spike)
        pre_history = rate.new_empty(self.chunk_steps, n_slots, d)
        counts = rate.new_zeros(n_slots, n)
        fired = rate.new_zeros(n_slots, 2 * n)  # presentation and rest
        change = torch.zeros_like(weight) if deferred else None
        # Online: every slot's own weights [S, D, N], changed by its own STDP at every step; rows
        # and columns are addressed through flat indices (index_select and take are the fast
        # gathers on a CPU; advanced indexing of a 3-d tensor was ~3x slower per call).
        slot_weight = weight.expand(n_slots, d, n).clone() if online else None
        column_offsets = torch.arange(d, device=rate.device) * n if online else None
        total_steps = p.presentation_steps + p.rest_steps
        for chunk, start in enumerate(range(0, total_steps, self.chunk_steps)):
            length = min(self.chunk_steps, total_steps - start)
            n_input = max(0, min(length, p.presentation_steps - start))
            if n_input:
                first, last = chunk_bounds[chunk], chunk_bounds[chunk + 1]
                chunk_rows, chunk_source = step_slot[first:last] - start * n_slots, source[first:last]
                input_chunk.zero_().view(-1, d)[chunk_rows, chunk_source] = 1.0
                if online:
                    # Each step's input spikes, as (slot, input) events: they select rows of their
                    # slot's weights (an event-driven product).
                    chunk_slot = chunk_rows % n_slots
                    chunk_weight_row = chunk_slot * d + chunk_source  # row of slot_weight.view(S * D, N)
                    step_bounds = torch.searchsorted(
                        chunk_rows, torch.arange(n_input + 1, device=rate.device) * n_slots
                    ).tolist()
                else:
                    # Weights are fixed within the chunk: its input drive at once, as a sparse
                    # product (the spikes are ~1 % of the step x input entries).
                    spikes_by_step = _ones_at(chunk_rows, chunk_source, (n_input * n_slots, d), weight.dtype)
                    drive = (spikes_by_step @ weight).view(n_input, n_slots, n)
            for k in range(length):
                t = start + k
                s_in = input_chunk[k] if k < n_input else None
                neurons = integrate(slots.neurons, population, constants)
                if learning:  # frozen when not learning, as in the paper's test mode
                    slots.theta = decay_threshold(slots.theta, p.tau_theta, p.dt, p.integration)
                spikes = threshold_crossings(neurons, population, slots.theta)
                spike_e, spike_i = spikes[:, :n], spikes[:, n:]
                g_exc, g_inh = neurons.g_exc, neurons.g_inh
                if s_in is not None and online:
                    event_slot = chunk_slot[step_bounds[k] : step_bounds[k + 1]]
                    event_row = chunk_weight_row[step_bounds[k] : step_bounds[k + 1]]
                    selected = slot_weight.view(-1, n).index_select(0, event_row)  # [E, N]
                    g_exc[:, :n] += g_exc.new_zeros(n_slots, n).index_add_(
                        0, event_slot, selected.to(g_exc.dtype)
                    )
                elif s_in is not None:
                    g_exc[:, :n] += drive[k]
                g_exc[:, n:].add_(spike_e, alpha=p.weight_exc_inh)
                g_inh[:, :n].add_(spike_i.sum(dim=1, keepdim=True) - spike_i, alpha=p.weight_inh_exc)
                if learning:
                    slots.pre.mul_(decay[0])
                    slots.post1.mul_(decay[1])
                    slots.post2.mul_(decay[2])
                    if s_in is not None:
                        torch.maximum(slots.pre, s_in, out=slots.pre)  # a spike sets the trace to 1
                        if online:  # only the rows of the inputs that fired change
                            post1 = slots.post1.index_select(0, event_slot)
                            # As a change added in place: index_add_ is ~3x faster than index_copy_.
                            change_rows = depressed(selected, post1, p.nu_pre, p.w_max).sub_(selected)
                            slot_weight.view(-1, n).index_add_(0, event_row, change_rows)
                        else:
                            post1_history[k] = slots.post1
                    if deferred:
                        torch.mul(spike_e, slots.post2, out=potentiating[k])
                        pre_history[k] = slots.pre
                    else:  # only the columns of the neurons that fired change
                        post_slot, post = spike_e.nonzero(as_tuple=True)
                        if len(post):
                            # Flat positions of the columns [P, D] of the neurons that fired.
                            column = (post_slot * (d * n) + post).unsqueeze(1) + column_offsets
                            changed = potentiated(
                                slot_weight.take(column),
                                slots.pre.index_select(0, post_slot),
                                slots.post2[post_slot, post],
                                p.nu_post,
                                p.w_max,
                            )
                            slot_weight.put_(column, changed)
                    torch.maximum(slots.post1, spike_e, out=slots.post1)
                    torch.maximum(slots.post2, spike_e, out=slots.post2)
                    slots.theta.add_(spikes * theta_plus)
                slots.neurons = reset(neurons, population, spikes, constants)
                fired += spikes
                if t < p.presentation_steps:
                    counts += spike_e
            if deferred:
                # Depression (rules/stdp.depressed, unclipped) summed over the chunk's presynaptic
                # spikes ...
                if n_input:
                    by_source = _ones_at(chunk_source, chunk_rows, (d, n_input * n_slots), weight.dtype)
                    change.sub_(by_source @ post1_history[:n_input].view(-1, n), alpha=p.nu_pre)
                # ... and potentiation (rules/stdp.potentiated, unclipped) over its postsynaptic spikes.
                step_slot_post, post = potentiating[:length].view(-1, n).nonzero(as_tuple=True)
                if len(step_slot_post):
                    rows = pre_history[:length].view(-1, d)[step_slot_post]
                    rows *= potentiating[:length].view(-1, n)[step_slot_post, post, None]
                    change.index_add_(1, post, rows.T, alpha=p.nu_post)
        if deferred:
            weight = self._combined(weight, change, n_images)
        elif online:  # one slot: its own weights, up to rounding
            weight = self._combined(weight, slot_weight.sub_(weight).sum(dim=0), n_images)
        self.last_run["input_spikes"] += len(step_of)
        self.last_run["excitatory_spikes"] += int(fired[:, :n].sum())
        self.last_run["inhibitory_spikes"] += int(fired[:, n:].sum())
        return counts, weight


@functools.cache
def _cuda_kernel_available(n_neurons: int) -> bool:
    """Whether the CUDA kernel can run a layer of ``n_neurons`` (numba's CUDA target answers)."""
    try:
        from neurosim.models import diehl_cook_cuda
    except Exception:  # numba without a working CUDA target: the torch simulation runs instead
        return False
    return diehl_cook_cuda.available() and n_neurons <= diehl_cook_cuda.MAX_NEURONS


@functools.cache
def _compiled_available() -> bool:
    """Whether numba imports (it is a dependency; a platform without it falls back to torch)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compile_kernel() -> None:
    """Compile the CPU kernel for float32 layers now (or load it from numba's cache, ~0.5 s)
    rather than in a first fit (a few seconds on a fresh install): one small image presented to a
    4-input, 2-neuron layer, learning and not. A fit worker does this while it waits for a run."""
    if not _compiled_available():
        return
    layer = DiehlCookLayer(4, 2, preset("paper"))
    generator = torch.Generator().manual_seed(0)
    for learning in (True, False):
        layer.present(torch.full((1, 4), 0.5), learning=learning, generator=generator)


def _ones_at(
    row: torch.Tensor, column: torch.Tensor, shape: tuple[int, int], dtype: torch.dtype
) -> torch.Tensor:
    """A sparse (CSR) ``shape`` matrix with ones at the distinct positions ``(row, column)``."""
    order = torch.argsort(row * shape[1] + column)
    row, column = row[order], column[order]
    row_starts = torch.zeros(shape[0] + 1, dtype=torch.int64, device=row.device)
    row_starts[1:] = torch.bincount(row, minlength=shape[0]).cumsum(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            row_starts,
            column,
            torch.ones(len(row), dtype=dtype, device=row.device),
            shape,
            check_invariants=False,
        )
