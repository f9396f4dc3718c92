"""Geometric transformations of test images: translation, rotation and elastic deformation.

Images are ``[N, C, H, W]`` with a zero background (digits, Fashion-MNIST); whatever moves in from
outside the image is 0. Each function draws its random choices (direction, sign, displacement field)
from a generator with a fixed seed, so every model sees the same transformed images.

* :func:`translate`: each image moves by exactly ``pixels`` in one of the 8 directions (up, down,
  left, right, diagonals; Chebyshev distance ``pixels``), chosen at random per image. Integer shifts
  (nearest-neighbour sampling), so pixel values are unchanged.
* :func:`rotate`: each image turns by ``degrees`` about its centre, clockwise or anticlockwise at
  random; bilinear sampling.
* :func:`elastic`: the elastic distortion of Simard, Steinkraus & Platt (ICDAR 2003): a displacement
  field of independent uniform(-1, 1) values per pixel and axis, smoothed by a Gaussian of ``sigma``
  pixels, here rescaled so that its root-mean-square displacement is ``rms_pixels`` (a strength in
  pixels, rather than Simard's alpha whose effect depends on sigma); bilinear sampling.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

DIRECTIONS = torch.tensor([[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]])


def _sample(x: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode="zeros", align_corners=False)


def translate(x: torch.Tensor, pixels: int, seed: int = 0) -> torch.Tensor:
    """Shift each image by ``pixels`` in a random one of 8 directions (zeros move in)."""
    if pixels == 0:
        return x.clone()
    n, _, height, width = x.shape
    generator = torch.Generator().manual_seed(seed)
    shift = DIRECTIONS[torch.randint(len(DIRECTIONS), (n,), generator=generator)] * pixels  # [N, (dy, dx)]
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # The grid says where each output pixel reads from: content moves by +shift.
    theta[:, 0, 2] = -2.0 * shift[:, 1] / width
    theta[:, 1, 2] = -2.0 * shift[:, 0] / height
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return _sample(x, grid.to(x.device), "nearest")


def rotate(x: torch.Tensor, degrees: float, seed: int = 0) -> torch.Tensor:
    """Rotate each image by ``degrees`` about its centre, in a random direction."""
    if degrees == 0:
        return x.clone()
    n = x.shape[0]
    generator = torch.Generator().manual_seed(seed)
    sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    angle = sign * math.radians(degrees)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle)
    theta[:, 0, 1] = -torch.sin(angle)
    theta[:, 1, 0] = torch.sin(angle)
    theta[:, 1, 1] = torch.cos(angle)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return _sample(x, grid.to(x.device), "bilinear").clamp(0.0, 1.0)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """1-D Gaussian of ``sigma`` samples, radius ``ceil(3 sigma)``, normalised to sum 1."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def elastic(x: torch.Tensor, rms_pixels: float, sigma: float = 4.0, seed: int = 0) -> torch.Tensor:
    """Simard et al.'s elastic distortion with a displacement of ``rms_pixels`` (root mean square)."""
    if rms_pixels == 0:
        return x.clone()
    n, _, height, width = x.shape
    generator = torch.Generator().manual_seed(seed)
    kernel = gaussian_kernel(sigma)
    pad = len(kernel) // 2
    # Drawn on a margin wide enough for the smoothing to be uniform up to the image border.
    field = torch.rand(n, 2, height + 2 * pad, width + 2 * pad, generator=generator) * 2 - 1  # (dx, dy)
    field = F.conv2d(field, kernel.expand(2, 1, 1, -1), groups=2)  # along rows
    field = F.conv2d(field, kernel[:, None].expand(2, 1, -1, 1), groups=2)  # along columns
    rms = field.pow(2).sum(1).mean((1, 2)).sqrt().clamp_min(1e-12)  # per image, in pixels
    field = field * (rms_pixels / rms)[:, None, None, None]
    identity = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), list(x.shape), align_corners=False)
    # Pixels to normalised coordinates: a pixel is 2 / W wide.
    offset = torch.stack([field[:, 0] * 2 / width, field[:, 1] * 2 / height], dim=-1)
    return _sample(x, (identity + offset).to(x.device), "bilinear").clamp(0.0, 1.0)
