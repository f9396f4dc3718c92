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
``torch`` always runs the tensor simulation. Deferred slots always run in torch.

Structure: the pure step functions of the neurons
(:mod:`~neurosim.neurons.conductance_population`) and of the STDP traces
(:mod:`~neurosim.rules.stdp_traces`), the torch simulation's loop over time steps
(:mod:`~neurosim.models.diehl_cook_torch`) or the compiled kernels
(:mod:`~neurosim.models.diehl_cook_compiled`), and the slot scheduler below, whose presentations
return their statistics (:class:`~neurosim.models.diehl_cook_stats.RunStats`). The integration
and the deviations from the released code: :mod:`~neurosim.models.diehl_cook_params`.

Shapes: images ``[M, D]`` in [0, 1]; weights ``[D, N]``; spike counts ``[M, N]``.
"""

from __future__ import annotations

import torch
from torch import nn

from neurosim.encoders import bernoulli_spike_events
from neurosim.models import diehl_cook_compiled as compiled
from neurosim.models.diehl_cook_params import (
    BATCHED_SLOTS,
    DiehlCookParams,
    check_options,
    initial_input_weights,
    preset,
)
from neurosim.models.diehl_cook_params import PRESETS as PRESETS  # re-exported
from neurosim.models.diehl_cook_params import DiehlCookConstants as DiehlCookConstants
from neurosim.models.diehl_cook_stats import RunStats, operation_counts_of
from neurosim.models.diehl_cook_torch import (
    Plasticity,
    Schedule,
    SlotState,
    keep_slots,
    simulate,
    slots_at_rest,
)
from neurosim.neurons.conductance_lif import ConductanceLIFParams, euler_constants, stacked, threshold_factor
from neurosim.neurons.conductance_population import PopulationParams
from neurosim.rules.stdp import normalise_columns


class DiehlCookLayer(nn.Module):
    """Input weights ``W [D, N]`` (learnt by STDP) and thresholds ``theta [N]`` of the network.

    ``forward(x [M, D]) -> spike counts [M, N]`` with plasticity off; :meth:`learn` presents
    images with plasticity on. Both draw Poisson spikes from ``generator`` when given, else from
    torch's global generator; :meth:`forward` seeds its own (``encoding_seed``) so that a stored
    network gives the same counts on every call.

    The simulation's state lives in its calls: a call starts every slot from rest and returns the
    counts and weights. :attr:`last_stats` records the :class:`RunStats` of the last call (for
    the forward hook's :meth:`operation_counts`, the STDP rule and the fidelity check), set in
    :meth:`_record` only; :attr:`last_run` is the same as a dict.
    """

    theta: torch.Tensor

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
        check_options(mode, batch_size, batch_combine, slot_plasticity, simulator)
        self.params, self.mode, self.batch_combine = params, mode, batch_combine
        self.slot_plasticity, self.simulator = slot_plasticity, simulator
        self.batch_size = 1 if mode == "exact" else int(batch_size or BATCHED_SLOTS)
        self.chunk_steps, self.encoding_seed = int(chunk_steps), int(encoding_seed)
        self.n_inputs, self.n_neurons = n_inputs, n_neurons
        self.weight_sum = params.weight_sum_784 * n_inputs / 784
        self.weight = nn.Parameter(initial_input_weights(n_inputs, n_neurons), requires_grad=False)
        self.register_buffer("theta", torch.full((n_neurons,), float(params.theta_start)))
        self._tables: dict = {}  # the compiled kernel's constant tables (_kernel_tables)
        self.last_stats = RunStats()  # of the last present() or run_spike_train() call

    operation_kind = "spiking"

    def operation_counts(self, x: torch.Tensor, counts: torch.Tensor) -> dict[str, int]:
        """The last call's work (every presentation, re-presentations and rest included):
        :func:`operation_counts_of` its :attr:`last_stats`."""
        return operation_counts_of(self.last_stats, self.n_inputs, self.n_neurons)

    def learning_operation_counts(self) -> dict[str, int]:
        """The simulation work of the last :meth:`learn` call, as :meth:`operation_counts` (its
        plasticity updates are counted by the rule, :class:`~neurosim.rules.stdp.DiehlCookSTDPRule`)."""
        return operation_counts_of(self.last_stats, self.n_inputs, self.n_neurons)

    @property
    def last_run(self) -> dict[str, int]:
        """:attr:`last_stats` as a dict (``steps``, ``input_steps``, ``input_spikes``, ...)."""
        return self.last_stats.as_dict()

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
        """:meth:`run`, its statistics kept in :attr:`last_stats`; returns the counts and weights."""
        counts, weight, stats = self.run(x, learning, generator)
        self._record(stats)
        return counts, weight

    @torch.no_grad()
    def run(
        self, x: torch.Tensor, learning: bool, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, RunStats]:
        """Stream the images ``x [M, D]`` through ``batch_size`` slots (see the module docstring);
        returns the spike counts ``[M, N]``, the weights after learning (``theta`` is updated in
        place) and what was simulated. The slot scheduler: each round presents every busy slot's
        image once, then finished slots take the next images and the others present theirs
        again, brighter."""
        p, m = self.params, len(x)
        if p.input_total > 0:
            total = p.input_total * self.n_inputs / 784
            x = x * (total / x.sum(dim=1, keepdim=True).clamp_min(1e-12))
        population = self._population(x.device, learning)
        weight = self.weight.detach().clone()
        stream = _Stream(m, min(self.batch_size, m), x.device)
        state = slots_at_rest(population.neurons, self.theta, len(stream.image), self.n_inputs)
        counts_out = torch.zeros(m, self.n_neurons, device=x.device, dtype=x.dtype)
        stats = RunStats()
        while len(stream.image):
            if learning:
                weight = normalise_columns(weight, self.weight_sum)
            rate = x[stream.image] * (p.max_rate + stream.presentations.unsqueeze(1) * p.rate_increase)
            counts, weight, presented, state = self._presentation(state, population, rate, weight, generator)
            stats += presented
            if learning:
                state = self._share_thresholds(state, len(stream.image))
            kept = stream.advance(counts, counts_out, p.min_spikes, p.max_presentations)
            if kept is not None:
                state = keep_slots(state, kept)
            if p.reset_between_images:
                state = slots_at_rest(population.neurons, self.theta, len(stream.image), self.n_inputs)
        return counts_out, weight, stats

    @torch.no_grad()
    def run_spike_train(
        self, spike_steps: torch.Tensor, spike_inputs: torch.Tensor, learning: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One presentation of given input spikes (input ``spike_inputs[k]`` fires at step
        ``spike_steps[k]``) to one slot from rest, with no normalisation or re-presentation (for
        cross-checks with other simulators). Returns the counts ``[N]`` during the input and the
        weights after the presentation and rest; ``theta`` is updated in place when learning."""
        population = self._population(self.weight.device, learning)
        state = slots_at_rest(population.neurons, self.theta, 1, self.n_inputs)
        rate = self.weight.new_zeros(1, self.n_inputs)
        weight = self.weight.detach().clone()
        events = (spike_steps, spike_inputs)
        counts, weight, stats, state = self._presentation(state, population, rate, weight, None, events)
        if learning:
            self.theta.copy_(state.population.theta[0, : self.n_neurons])
        self._record(stats)
        return counts[0], weight

    def _record(self, stats: RunStats) -> None:
        """Keep the last call's statistics (:attr:`last_stats`)."""
        self.last_stats = stats

    def _population(self, device: torch.device, learning: bool) -> PopulationParams:
        """The neurons' constants for a call: excitatory then inhibitory, thresholds adaptive
        while ``learning``."""
        p, n = self.params, self.n_neurons
        neurons = stacked([(p.excitatory_firing, n), (p.inhibitory, n)], device=device)
        theta_plus = torch.cat([torch.full((n,), p.theta_plus), torch.zeros(n)]).to(device)
        return PopulationParams(
            neurons,
            euler_constants(neurons, p.dt, p.integration),
            p.weight_exc_inh,
            p.weight_inh_exc,
            threshold_factor(p.tau_theta, p.dt, p.integration),
            theta_plus,
            learning,
        )

    def _presentation(
        self,
        state: SlotState,
        population: PopulationParams,
        rate: torch.Tensor,
        weight: torch.Tensor,
        generator: torch.Generator | None,
        events: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, RunStats, SlotState]:
        """One presentation (input, then rest) of every slot from ``state``, learning when
        ``population.adaptive``; returns the counts during the input ``[S, N]``, the weights after
        it (the slots' changes combined), its statistics and the slots' state after it.
        ``events``: given input spikes (step, slot * D + input) instead of Poisson spikes at
        ``rate [S, D]``."""
        p, n, learning = self.params, self.n_neurons, population.adaptive
        n_slots = rate.shape[0]
        online = learning and self.slot_plasticity == "online"  # the exact mode is always online
        if events is None:
            events = bernoulli_spike_events(rate * (p.dt / 1000.0), p.presentation_steps, generator)
        schedule = Schedule(p.presentation_steps, p.rest_steps, self.chunk_steps)
        if self._compiled(rate.device, learning and not online):
            tables = self._kernel_tables(population.neurons, state)
            presented = compiled.present_compiled(
                state, weight, events, tables, learning, p.integration, schedule
            )
            counts, change, fired, state = presented
        else:
            mode = "online" if online else "deferred" if learning else "frozen"
            counts, change, fired, state = simulate(
                state, weight, events, population, Plasticity.of(p), mode, schedule, rate.dtype
            )
        if learning:  # online: each slot's own weights; their changes, summed
            change = change.sub_(weight).sum(dim=0) if change.dim() == 3 else change
            weight = self._combined(weight, change, n_slots)
        stats = RunStats(
            n_slots * schedule.total_steps,
            n_slots * schedule.presentation_steps,
            len(events[0]),
            int(fired[:, :n].sum()),
            int(fired[:, n:].sum()),
        )
        return counts, weight, stats, state

    def _share_thresholds(self, state: SlotState, n_busy: int) -> SlotState:
        """After a learning presentation: the shared thresholds gain every slot's increments, and
        every slot goes on from them.

        Each slot started from the shared thresholds and all their spikes count (with one slot,
        these are just its thresholds). The sequential algorithm would have taken one presentation
        per busy slot, one after another: the shared thresholds decay over all of that time
        (tau_theta = 1e4 s is ~20,000 presentations, so over an epoch the decay is what bounds
        theta; over one presentation it would not be)."""
        p, n = self.params, self.n_neurons
        steps = p.presentation_steps + p.rest_steps
        factor = threshold_factor(p.tau_theta, p.dt, p.integration)  # per step
        theta = state.population.theta
        increments = theta[:, :n] - self.theta * factor**steps
        self.theta.mul_(factor ** (steps * n_busy)).add_(increments.sum(dim=0))
        theta = theta.clone()
        theta[:, :n] = self.theta
        return state._replace(population=state.population._replace(theta=theta))

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
        float32 = self.weight.dtype == torch.float32 and self.theta.dtype == torch.float32
        return compiled.available(device, self.n_neurons, float32)

    def _kernel_tables(
        self, population: ConductanceLIFParams, state: SlotState
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`~.diehl_cook_compiled.kernel_tables` for the state's dtypes and device, built
        once, not at every presentation (one image in the exact mode); the parameters and the
        population are fixed for the layer's life, so these are the whole key."""
        key = (state.population.neurons.v.dtype, state.traces.post2.dtype, state.population.theta.device)
        if key not in self._tables:
            self._tables[key] = compiled.kernel_tables(population, self.params, *key)
        return self._tables[key]


class _Stream:
    """The slot scheduler's bookkeeping: the image each slot presents (-1: done, dropped) and how
    many times it has."""

    def __init__(self, n_images: int, n_slots: int, device: torch.device) -> None:
        self.n_images, self.next_image = n_images, n_slots
        self.image = torch.arange(n_slots, device=device)
        self.presentations = torch.zeros(n_slots, dtype=torch.int64, device=device)

    def advance(
        self, counts: torch.Tensor, counts_out: torch.Tensor, min_spikes: int, max_presentations: int
    ) -> torch.Tensor | None:
        """After a presentation with ``counts [S, N]``: images done (enough spikes, or presented
        ``max_presentations`` times) write their counts into ``counts_out [M, N]``, and their slots
        take the next images; the others present theirs again. Slots left without an image are
        dropped (the stream's tail): returns the indices of the slots that go on, ``None`` when
        they all do."""
        self.presentations += 1
        done = (counts.sum(dim=1) >= min_spikes) | (self.presentations >= max_presentations)
        counts_out[self.image[done]] = counts[done]
        finished = done.nonzero().squeeze(1)
        n_new = min(len(finished), self.n_images - self.next_image)
        self.image[finished] = -1
        self.image[finished[:n_new]] = torch.arange(
            self.next_image, self.next_image + n_new, device=counts.device
        )
        self.presentations[finished] = 0
        self.next_image += n_new
        if bool((self.image >= 0).all()):
            return None
        index = (self.image >= 0).nonzero().squeeze(1)
        self.image, self.presentations = self.image[index], self.presentations[index]
        return index


def compile_kernel() -> None:
    """Compile the CPU kernel for float32 layers now (or load it from numba's cache, ~0.5 s)
    rather than in a first fit (a few seconds on a fresh install): one small image presented to a
    4-input, 2-neuron layer, learning and not. A fit worker does this while it waits for a run."""
    if not compiled.numba_available():
        return
    layer = DiehlCookLayer(4, 2, preset("paper"))
    generator = torch.Generator().manual_seed(0)
    for learning in (True, False):
        layer.present(torch.full((1, 4), 0.5), learning=learning, generator=generator)
