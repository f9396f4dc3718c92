"""The Neocognitron's learning rules: competitive learning with seed cells, unsupervised and supervised.

Reference: K. Fukushima, "Neocognitron for handwritten digit recognition", Neurocomputing
51:161-180 (2003), section 3 (and Fukushima 1980 for the reinforcement of seed cells). Cells are
:class:`~neurosim.models.neocognitron_cells.SCells` / ``TopSCells``; no gradient is used anywhere.

**Reinforcement** (both rules). When the cell at ``n_hat`` of plane ``k_hat`` is chosen as a *seed
cell*, the input connections of every cell of its plane (the weights are shared) change by::

    Delta a(nu, kappa, k_hat) = q c(nu) u_C(n_hat + nu, kappa)

so a plane's ``a / c`` is the sum of the input patches it has been taught, and the S-cell measures
the cosine between an input and that sum. A new plane (cell) is *generated* by the same update
from all-zero weights. Training images are presented one at a time: each sees the weights left by
the previous one, and a batch's change is the sum, applied in one optimiser step (exactly the
batch-size-1 trajectory, as for the perceptron rule).

**Unsupervised competitive learning** (intermediate layers US2, US3), per training image, with the
learning threshold ``theta_L`` (higher than the recognition threshold ``theta_R``: the "dual
threshold" of Fukushima, Nagahara & Shouno 1997 and 2003):

1. *Competition*: an S-cell is a winner when its response is positive and the largest within its
   competition area (all planes, positions within ``competition_radius``). Each plane with a winner
   takes its strongest winner as its seed and is reinforced there.
2. *Generation*: positions where no plane responds although the input is present (V-cell output at
   least ``generation_fraction`` of the image's largest) are not yet represented. The strongest such
   position becomes the seed of a new plane; positions the new plane responds to are then covered;
   repeat while uncovered positions remain and planes are available.

**Supervised competitive learning** (the top layer US4, with labels): the top cell with the largest
response (at ``theta_L``) wins. If it responds and has the training pattern's label, it is
reinforced; otherwise (wrong label, or no cell responds) a new cell is generated from the pattern
and given its label. The objective reported is the number of such mistakes.

Choices where the 2003 paper is not followed literally (named options, documented): the
competition area is a square of planes x positions rather than Fukushima's hypercolumn geometry;
"input present" is a fraction of the image's largest V-cell output; when every plane (cell) is
in use, generation stops and only reinforcement continues.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.objectives import objective
from neurosim.rules.base import ONLINE_ERROR_RATE, write_delta
from neurosim.rules.layers import GROWING_S_CELLS, S_CELLS
from neurosim.rules.registry import RULES


def generated_planes(weight: torch.Tensor) -> int:
    """Cell-planes generated in ``weight`` ``[K, ...]``: learning generates planes in order, so the
    generated ones are the prefix of planes with any non-zero weight."""
    return int((weight.detach().flatten(1).abs().sum(1) > 0).sum())


def patch(x: torch.Tensor, position: tuple[int, int], radius: int) -> torch.Tensor:
    """The ``[kappa, 2r+1, 2r+1]`` input patch centred on ``position`` of ``x`` ``[kappa, H, W]``
    (zero outside the image, as the S-cells' zero padding)."""
    padded = F.pad(x, (radius, radius, radius, radius))
    row, col = position
    return padded[:, row : row + 2 * radius + 1, col : col + 2 * radius + 1]


def unsupervised_competitive_step(
    layer: nn.Module,
    weight: torch.Tensor,
    x: torch.Tensor,
    theta: float,
    q: float,
    competition_radius: int,
    generation_fraction: float,
    max_generated: int | None = None,
) -> int:
    """Present one image's input ``x`` ``[kappa, H, W]`` to the S-layer; updates ``weight``
    ``[K, kappa, s, s]`` in place (reinforced and generated planes). Returns planes generated."""
    radius, c = layer.radius, layer.c
    n = generated_planes(weight)
    image = x[None]
    v_map = layer.v_cells(image)  # [1, 1, H, W], shared by every response below
    v = v_map[0, 0]
    if n > 0:
        u = layer.response(image, weight[:n], theta, v_map)[0]  # [n, H, W]
        best, plane = u.max(dim=0)
        area = 2 * competition_radius + 1
        local_max = F.max_pool2d(best[None, None], area, stride=1, padding=competition_radius)[0, 0]
        winners = (best > 0) & (best >= local_max)
        seeds: dict[int, tuple[float, tuple[int, int]]] = {}
        for row, col in winners.nonzero().tolist():
            k, value = int(plane[row, col]), float(best[row, col])
            if k not in seeds or value > seeds[k][0]:
                seeds[k] = (value, (row, col))
        for k, (_, position) in seeds.items():
            weight[k] += q * c * patch(x, position, radius)
        uncovered = best <= 0
    else:
        uncovered = torch.ones_like(v, dtype=torch.bool)
    candidates = uncovered & (v > 0) & (v >= generation_fraction * v.max())
    generated = 0
    limit = weight.shape[0] if max_generated is None else min(weight.shape[0], n + max_generated)
    while bool(candidates.any()) and n < limit:
        flat = int(torch.where(candidates, v, torch.full_like(v, -1.0)).argmax())
        position = divmod(flat, v.shape[1])
        weight[n] = q * c * patch(x, position, radius)
        covered = layer.response(image, weight[n : n + 1], theta, v_map)[0, 0] > 0
        covered[position] = True  # the seed itself is now represented, whatever its contrast
        candidates &= ~covered
        n += 1
        generated += 1
    return generated


@RULES.register("neocognitron_unsupervised")
class UnsupervisedCompetitiveRule:
    """Unsupervised competitive learning with seed cells and plane generation (US2, US3).

    Args:
        theta: learning threshold ``theta_L``.
        q: reinforcement rate (large, so that S-cells measure similarity independent of contrast).
        competition_radius: spatial half-width of the competition area.
        generation_fraction: "input present" threshold, as a fraction of the image's largest V-cell.
        max_generated_per_image: at most this many new planes per image (``None``: no limit but the
            planes available).
    """

    name = "neocognitron_unsupervised"
    layer = S_CELLS
    objective = objective("planes_generated", "cell-planes generated per training image (US2, US3)")
    last_updates = 0

    def __init__(
        self,
        theta: float = 0.7,
        q: float = 1e4,
        competition_radius: int = 2,
        generation_fraction: float = 0.1,
        max_generated_per_image: int | None = None,
    ) -> None:
        self.theta, self.q = theta, q
        self.competition_radius, self.generation_fraction = competition_radius, generation_fraction
        self.max_generated_per_image = max_generated_per_image

    @torch.no_grad()
    def write_grads(self, module: nn.Module, pre: torch.Tensor, target=None, progress: float = 0.0) -> float:
        weight = module.weight.detach().clone()
        generated, self.last_updates = 0, 0
        for x in pre:
            before = weight.clone()
            generated += unsupervised_competitive_step(
                module,
                weight,
                x,
                self.theta,
                self.q,
                self.competition_radius,
                self.generation_fraction,
                self.max_generated_per_image,
            )
            self.last_updates += int(torch.count_nonzero(weight != before))
        write_delta(module.weight, weight - module.weight.detach())
        return float(generated)


def supervised_competitive(
    layer: nn.Module,
    weight: torch.Tensor,
    labels: list[int],
    x: torch.Tensor,
    targets: torch.Tensor,
    theta: float,
    q: float,
    max_cells: int,
) -> tuple[int, int]:
    """Present flattened inputs ``x`` ``[B, D]`` with ``targets`` ``[B]`` one at a time to the top
    cells. ``weight`` ``[K + B, D]`` holds the ``K = len(labels)`` cells and room for ``B`` more;
    reinforced and generated cells change in place and generated cells' labels are appended to
    ``labels``. Returns the number of mistakes and of plasticity updates (each reinforced or
    generated cell changes its weights from the image's non-zero inputs).

    Responses to the cells as they were before the batch are computed at once; a cell that changes
    at image ``i`` has its responses to images ``i+1..`` recomputed, so every image sees exactly the
    cells the previous images left.
    """
    n = len(labels)
    batch = len(x)
    v = layer.v_cells(x)  # [B], shared by every response below
    responses = x.new_zeros(batch, n + batch)
    if n > 0:
        responses[:, :n] = layer.response(x, weight[:n], theta, v)
    weighted = layer.c * q
    mistakes, updates = 0, 0
    for i, target in enumerate(targets.tolist()):
        if n > 0:
            winner = int(responses[i, :n].argmax())
            correct = bool(responses[i, winner] > 0) and labels[winner] == target
        else:
            winner, correct = -1, False
        if correct:
            changed = winner
            weight[winner] += weighted * x[i]
        else:
            mistakes += 1
            if n >= max_cells:
                continue  # no cell may be generated any more
            changed = n
            weight[n] = weighted * x[i]
            labels.append(target)
            n += 1
        updates += int(torch.count_nonzero(weighted * x[i]))
        if i + 1 < batch:
            updated = layer.response(x[i + 1 :], weight[changed : changed + 1], theta, v[i + 1 :])
            responses[i + 1 :, changed] = updated[:, 0]
    return mistakes, updates


@RULES.register("neocognitron_supervised")
class SupervisedCompetitiveRule:
    """Supervised competitive learning of the top S-cells (US4), see the module docstring.

    Args:
        theta: learning threshold ``theta_L`` of the top cells.
        q: reinforcement rate.
    """

    name = "neocognitron_supervised"
    layer = GROWING_S_CELLS
    objective = ONLINE_ERROR_RATE
    last_updates = 0

    def __init__(self, theta: float = 0.8, q: float = 1e4) -> None:
        self.theta, self.q = theta, q

    @torch.no_grad()
    def write_grads(
        self, module: nn.Module, pre: torch.Tensor, target: torch.Tensor, progress: float = 0.0
    ) -> float:
        x = pre.flatten(1)
        old = module.weight.detach()
        weight = torch.cat([old, old.new_zeros(len(x), old.shape[1])])
        labels = module.labels.tolist()
        mistakes, self.last_updates = supervised_competitive(
            module, weight, labels, x, target, self.theta, self.q, module.max_cells
        )
        # Generated cells are appended (as zeros, labelled), then every change is one update.
        module.grow(torch.tensor(labels[len(old) :], dtype=torch.int64))
        write_delta(module.weight, weight[: len(labels)] - module.weight.detach())
        return float(mistakes)
