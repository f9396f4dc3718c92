"""The cells of Fukushima's Neocognitron: contrast-extracting, S-, C- and top S-cells (no learning here).

References: K. Fukushima, "Neocognitron: a self-organizing neural network model for a mechanism of
pattern recognition unaffected by shift in position", Biol. Cybern. 36:193-202 (1980); K. Fukushima,
"Neocognitron for handwritten digit recognition", Neurocomputing 51:161-180 (2003). The learning
rules that shape the S-cells are in :mod:`neurosim.rules.competitive`; the network is assembled in
:mod:`neurosim.models.neocognitron`.

Notation (positions ``n``, offsets ``nu`` within a connection area, cell-planes ``k``, input planes
``kappa``; ``phi(x) = max(x, 0)``):

* **Contrast-extracting cells** (UG, on- and off-centre)::

      u_G(n, k) = phi[ (-1)^k sum_nu a_G(nu) u_0(n + nu) ],   k = 0 (on), 1 (off)

  ``a_G`` is a zero-sum difference of Gaussians (positive centre, negative surround).

* **S-cells** (feature extraction) with shunting inhibition from a V-cell::

      u_S(n, k) = theta / (1 - theta) * phi[ (1 + e(n, k)) / (1 + theta b(k) v(n)) - 1 ]
      e(n, k)   = sum_kappa sum_nu a(nu, kappa, k) u_C(n + nu, kappa)          (excitation)
      v(n)      = sqrt( sum_kappa sum_nu c(nu) u_C(n + nu, kappa)^2 )          (V-cell)
      b(k)      = sqrt( sum_kappa sum_nu a(nu, kappa, k)^2 / c(nu) )           (inhibitory weight)

  ``c(nu) > 0`` is the fixed spread of the V-cell's input connections, decaying with distance from
  the centre. Learning sets ``a = q c(nu) X`` for the input patches ``X`` an S-cell learns (see the
  rules), so ``e = b v s`` with ``s`` the cosine between the input and the learnt patch in the
  ``c``-weighted inner product, and::

      u_S = theta / (1 - theta) * phi[ b v (s - theta) / (1 + theta b v) ]  ->  phi[s - theta] / (1 - theta)

  for ``b v >> 1`` (large ``q``): the cell fires when the similarity exceeds its threshold
  ``theta``, whatever the input's contrast. Weak inputs (``b v`` near 1) give weaker responses.
  A cell-plane whose weights are all 0 (not yet generated) responds 0 everywhere.

* **C-cells** (blurring: spatial pooling that gives shift tolerance)::

      u_C(n, k) = psi[ sum_nu a_C(nu) u_S(n' + nu, k) ],   psi(x) = phi(x) / (1 + phi(x))

  with ``a_C`` a Gaussian centre and an inhibitory surround ring (Fukushima 2003, section 2.3), and
  C-layers sampled at every second position (``n'`` = 2 n).

* **Top S-cells** (US4): S-cells whose connection area is the whole last C-layer, one per learnt
  training pattern (see :class:`TopSCells`); the class of the strongest one is the answer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neurosim.rules.competitive import generated_planes


def s_cell_response(
    excitation: torch.Tensor, inhibition: torch.Tensor, v: torch.Tensor, theta: float
) -> torch.Tensor:
    """``theta / (1 - theta) * phi[(1 + e) / (1 + theta b v) - 1]`` (shapes broadcast).

    Args:
        excitation: ``e``, the weighted sum of the excitatory inputs.
        inhibition: ``b``, the weight of the inhibitory V-cell input (one per cell-plane).
        v: the V-cell output (root mean square of the inputs, weighted by ``c``).
        theta: the selectivity (threshold) in [0, 1).
    """
    if not 0.0 < theta < 1.0:
        raise ValueError(f"theta must lie in (0, 1), got {theta}")
    return theta / (1.0 - theta) * F.relu((1.0 + excitation) / (1.0 + theta * inhibition * v) - 1.0)


def distance_from_centre(height: int, width: int) -> torch.Tensor:
    """Euclidean distance of every position of a ``height x width`` area from its centre."""
    rows = torch.arange(height, dtype=torch.float32) - (height - 1) / 2
    cols = torch.arange(width, dtype=torch.float32) - (width - 1) / 2
    return torch.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)


def distance_grid(radius: int) -> torch.Tensor:
    """Euclidean distance of every offset of a ``(2 radius + 1)`` square from its centre."""
    return distance_from_centre(2 * radius + 1, 2 * radius + 1)


def spread(height: int, width: int, decay: float) -> torch.Tensor:
    """V-cell input spread ``c(nu) = decay^|nu|`` over a ``height x width`` connection area,
    normalised to sum 1 (all > 0)."""
    c = decay ** distance_from_centre(height, width)
    return c / c.sum()


def difference_of_gaussians(radius: int, sigma_centre: float, sigma_surround: float) -> torch.Tensor:
    """Zero-sum centre-surround kernel ``[2r+1, 2r+1]``: a unit-sum Gaussian minus a wider one."""
    d2 = distance_grid(radius) ** 2
    centre = torch.exp(-d2 / (2 * sigma_centre**2))
    surround = torch.exp(-d2 / (2 * sigma_surround**2))
    return centre / centre.sum() - surround / surround.sum()


def blur_with_surround(radius: int, sigma: float, surround: float) -> torch.Tensor:
    """C-cell input weights ``a_C`` ``[2r+1, 2r+1]``: a Gaussian over the disc ``|nu| < r`` (sum 1)
    and a uniform inhibitory ring ``r - 1 < |nu| <= r + 0.5`` (sum ``-surround``)."""
    d = distance_grid(radius)
    disc = d <= radius - 1
    ring = (d > radius - 1) & (d <= radius + 0.5)
    centre = torch.exp(-(d**2) / (2 * sigma**2)) * disc
    kernel = centre / centre.sum()
    if surround > 0:
        kernel = kernel - surround * ring / ring.sum()
    return kernel


class ContrastCells(nn.Module):
    """UG: on- and off-centre contrast extraction of a one-channel image ``[B, 1, H, W] -> [B, 2, H, W]``."""

    def __init__(self, radius: int = 3, sigma_centre: float = 0.8, sigma_surround: float = 2.0) -> None:
        super().__init__()
        kernel = difference_of_gaussians(radius, sigma_centre, sigma_surround)
        self.register_buffer("kernel", kernel[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        contrast = F.conv2d(x, self.kernel, padding=self.kernel.shape[-1] // 2)
        return torch.cat([F.relu(contrast), F.relu(-contrast)], dim=1)

    def convolutions(self, x: torch.Tensor) -> list[tuple]:
        """The convolution one call performs (for operation counts): one kernel, two signs."""
        return [(x, self.kernel, 1, self.kernel.shape[-1] // 2, 1, x[:, :1].numel())]


class SCells(nn.Module):
    """A layer of S-cell planes over a C-layer, ``[B, kappa, H, W] -> [B, K, H, W]`` (same size).

    Args:
        in_planes: number of input planes ``kappa``.
        max_planes: cell-planes available (learning generates them one by one; an unused plane has
            all-zero weights and responds 0).
        radius: connection area ``(2 radius + 1)^2``.
        theta: selectivity during recognition (``theta_R``; learning uses the rule's own ``theta_L``).
        spread_decay: decay of the V-cell spread ``c(nu) = decay^|nu|``.
        learnable: whether ``a`` is a parameter (trained by a rule) or a fixed buffer (US1).

    Attributes:
        weight: ``a(nu, kappa, k)``, ``[K, kappa, 2r+1, 2r+1]``.
        c: the spread ``c(nu)``, ``[2r+1, 2r+1]``.
    """

    def __init__(
        self,
        in_planes: int,
        max_planes: int,
        radius: int,
        theta: float,
        spread_decay: float = 0.7,
        learnable: bool = True,
    ) -> None:
        super().__init__()
        size = 2 * radius + 1
        weight = torch.zeros(max_planes, in_planes, size, size)
        if learnable:
            self.weight = nn.Parameter(weight, requires_grad=False)
        else:
            self.register_buffer("weight", weight)
        self.register_buffer("c", spread(size, size, spread_decay))
        self.radius, self.theta = radius, theta

    def n_planes(self) -> int:
        """Cell-planes generated so far (a prefix of the planes, see :func:`generated_planes`)."""
        return generated_planes(self.weight)

    def v_cells(self, x: torch.Tensor) -> torch.Tensor:
        """V-cell outputs ``v(n)``, ``[B, 1, H, W]``."""
        energy = F.conv2d(x.pow(2).sum(1, keepdim=True), self.c[None, None], padding=self.radius)
        return energy.clamp_min(0.0).sqrt()

    def inhibition(self, weight: torch.Tensor) -> torch.Tensor:
        """``b(k) = sqrt(sum a^2 / c)`` for weights ``[K, kappa, s, s]``; returns ``[K]``."""
        return (weight.pow(2) / self.c).sum((1, 2, 3)).sqrt()

    def response(
        self, x: torch.Tensor, weight: torch.Tensor, theta: float, v: torch.Tensor | None = None
    ) -> torch.Tensor:
        """S-cell outputs of the planes ``weight`` ``[K, kappa, s, s]`` at threshold ``theta``
        (``v``: the V-cell outputs of ``x`` where already computed)."""
        excitation = F.conv2d(x, weight, padding=self.radius)
        b = self.inhibition(weight)[None, :, None, None]
        return s_cell_response(excitation, b, self.v_cells(x) if v is None else v, theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.response(x, self.weight, self.theta)

    def convolutions(self, x: torch.Tensor) -> list[tuple]:
        """For operation counts: the excitatory inputs of the generated planes, and the V-cell's."""
        planes = self.weight[: self.n_planes()]
        positions = x.shape[0] * x.shape[2] * x.shape[3]
        energy = x.pow(2).sum(1, keepdim=True)
        return [
            (x, planes, 1, self.radius, 1, positions * len(planes)),
            (energy, self.c[None, None], 1, self.radius, 1, positions),
        ]


class CCells(nn.Module):
    """A C-layer: blur each S-plane with ``a_C`` (inhibitory surround), sample every ``stride``-th
    position, saturate with ``psi``; ``[B, K, H, W] -> [B, K, ceil(H / stride), ceil(W / stride)]``."""

    def __init__(self, radius: int, sigma: float, surround: float, stride: int = 2) -> None:
        super().__init__()
        self.register_buffer("kernel", blur_with_surround(radius, sigma, surround)[None, None])
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        planes = x.shape[1]
        kernel = self.kernel.expand(planes, 1, -1, -1)
        pooled = F.conv2d(x, kernel, stride=self.stride, padding=self.kernel.shape[-1] // 2, groups=planes)
        rectified = F.relu(pooled)
        return rectified / (1.0 + rectified)

    def convolutions(self, x: torch.Tensor) -> list[tuple]:
        """For operation counts: one blurring kernel per plane, sampled every ``stride`` positions."""
        planes, size = x.shape[1], self.kernel.shape[-1]
        out = [(s + 2 * (size // 2) - size) // self.stride + 1 for s in x.shape[2:]]
        kernel = self.kernel.expand(planes, 1, -1, -1)
        return [(x, kernel, self.stride, size // 2, planes, x.shape[0] * planes * out[0] * out[1])]


class TopSCells(nn.Module):
    """US4: S-cells over the whole last C-layer, each labelled with the class it learnt; the output
    is, per class, the largest response of that class's cells (the UC4 cells), ``[B, n_classes]``.

    Cells exist only once generated (supervised competitive learning appends them), so ``weight``
    has one row per generated cell and its stored size is what was learnt, not a capacity.

    Args:
        in_shape: shape ``(kappa, h, w)`` of the last C-layer.
        n_classes: number of classes.
        max_cells: the most cells learning may generate.
        theta: selectivity during recognition.
        spread_decay: decay of ``c`` with distance from the centre of the ``h x w`` area.

    Attributes:
        weight: ``[cells, kappa * h * w]``; labels: ``[cells]`` (int64).
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        n_classes: int,
        max_cells: int,
        theta: float,
        spread_decay: float = 0.7,
    ) -> None:
        super().__init__()
        planes, height, width = in_shape
        self.weight = nn.Parameter(torch.zeros(0, planes * height * width), requires_grad=False)
        self.register_buffer("labels", torch.zeros(0, dtype=torch.int64))
        c = spread(height, width, spread_decay)
        self.register_buffer("c", c.expand(planes, -1, -1).reshape(-1).clone())
        self.n_classes, self.theta, self.max_cells = n_classes, theta, max_cells

    def n_cells(self) -> int:
        """Cells generated so far."""
        return self.weight.shape[0]

    def grow(self, labels: torch.Tensor) -> None:
        """Append all-zero cells with ``labels`` (their weights arrive through the rule's update)."""
        self.weight.data = torch.cat(
            [self.weight.data, self.weight.new_zeros(len(labels), self.weight.shape[1])]
        )
        self.labels = torch.cat([self.labels, labels.to(self.labels)])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        stored = state_dict.get(prefix + "weight")
        if stored is not None and stored.shape[0] != self.weight.shape[0]:
            # A learnt model has as many cells as it generated: make room before loading.
            self.weight.data = self.weight.new_zeros(stored.shape)
            self.labels = self.labels.new_zeros(stored.shape[0])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def v_cells(self, x: torch.Tensor) -> torch.Tensor:
        """``v`` of flattened inputs ``[B, D]``; returns ``[B]``."""
        return (x.pow(2) * self.c).sum(1).clamp_min(0.0).sqrt()

    def inhibition(self, weight: torch.Tensor) -> torch.Tensor:
        """``b`` of cells ``[K, D]``; returns ``[K]``."""
        return (weight.pow(2) / self.c).sum(1).sqrt()

    def response(
        self, x: torch.Tensor, weight: torch.Tensor, theta: float, v: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Responses ``[B, K]`` of cells ``weight`` ``[K, D]`` to flattened inputs ``x`` ``[B, D]``
        (``v``: their V-cell outputs ``[B]`` where already computed)."""
        excitation = x @ weight.T
        v = self.v_cells(x) if v is None else v
        return s_cell_response(excitation, self.inhibition(weight)[None], v[:, None], theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        scores = flat.new_zeros(len(flat), self.n_classes)
        if self.n_cells() == 0:
            return scores
        responses = self.response(flat, self.weight, self.theta)
        index = self.labels.expand(len(flat), -1)
        return scores.scatter_reduce(1, index, responses, reduce="amax", include_self=True)


def edge_templates(
    contrast: ContrastCells, radius: int, n_orientations: int = 16, canvas_radius: int = 12
) -> torch.Tensor:
    """UG responses, around the centre, to straight edges of ``n_orientations`` directions.

    An edge of direction ``alpha = 2 pi j / n`` is the image ``clip(0.5 + <(x, y), (cos alpha,
    sin alpha)>, 0, 1)`` (dark on one side, bright on the other, one pixel of ramp), so the 16
    directions cover both polarities of 8 orientations. Returns ``[n, 2, 2r+1, 2r+1]``: the
    patterns that US1's cells learn with a teacher (Fukushima 2003 trains US1 by supervised
    learning on edges; here the teacher is this function).
    """
    offsets = torch.arange(-canvas_radius, canvas_radius + 1, dtype=torch.float32)
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    angles = 2 * math.pi * torch.arange(n_orientations, dtype=torch.float32) / n_orientations
    projection = x[None] * torch.cos(angles)[:, None, None] + y[None] * torch.sin(angles)[:, None, None]
    edges = (0.5 + projection).clamp(0.0, 1.0)[:, None]
    with torch.no_grad():
        responses = contrast(edges)
    centre = canvas_radius
    return responses[:, :, centre - radius : centre + radius + 1, centre - radius : centre + radius + 1]
