"""Sinusoidal gratings drawn on a model's input grid without aliasing, and the orientation a
grating's pixels actually carry (the check that they do).

Stimulus (orientation ``t``, period ``P`` in pixels of the model's input, phase ``phi``)::

    g(x, y) = 0.5 + 0.5 cos(k_x x + k_y y + phi),   (k_x, k_y) = (2 pi / P) (cos t, sin t)

with ``(x, y)`` in pixels from the image centre (``t = 0``: the wave runs along x, vertical bars).
Each pixel is the **area average** of ``g`` over its unit square (what a retina of square
photoreceptors records, and how the 8x8 sklearn digits were made: 4x4 blocks of 32x32 bitmaps
counted), which is analytic for a plane wave::

    pixel(x, y) = 0.5 + 0.5 sinc(cos t / P) sinc(sin t / P) cos(k_x x + k_y y + phi)

(``sinc(u) = sin(pi u) / (pi u)``, numpy's): the limit of drawing at an infinitely fine resolution
and block-averaging down. The contrast factor differs between orientations by < 1 % at the
periods used. The gratings are drawn at the task's input size (the "retina" every member is given)
and then pass through each model's own input path, e.g. bilinear resizing of 8x8 digits to Diehl &
Cook's 28x28 retina or LeNet-5's and the Neocognitron's 28x28 + 2 margin
(:func:`neurosim.models.retina.fit_to_retina`): the same operation as the digits take.

Periods: :data:`PERIODS_PER_28` scaled with the input width, and scaled up further where that
would put the finest below :data:`MIN_PERIOD` = 2.5 px (above the Nyquist limit of 2 px with a
margin), keeping their ratios 1 : 1.5 : 2 : 3 (:func:`periods_for`). A 28-pixel input keeps
4, 6, 8, 12 px; an 8x8 input gets 2.5, 3.75, 5, 7.5 px (it had 1.14, 1.71, 2.29, 3.43 px, of which
the first two alias). :data:`N_ORIENTATIONS` orientations evenly over 180 degrees, :data:`N_PHASES`
phases evenly over 360 degrees (tuning averages over them).

Check (:func:`estimate_wave`): the orientation and period a grating's pixels carry, from the peak
of its zero-padded 2-D DFT refined by a least-squares plane-wave fit (variable projection: for
each wave vector ``k`` the best ``a + b cos(k.r) + c sin(k.r)`` by linear least squares; ``k`` by
``scipy.optimize.least_squares``). A sampled plane wave below Nyquist is fitted exactly; above it
(period < 2 px) the pixels carry an alias, whose orientation and period the fit returns, so the
orientation error (:func:`orientation_error`) exposes aliasing. Measured errors: docs/orientation.md.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize

N_ORIENTATIONS = 16
N_PHASES = 8
#: Periods (pixels per cycle) for a 28-pixel-wide input; other widths scale them (:func:`periods_for`).
PERIODS_PER_28 = (4.0, 6.0, 8.0, 12.0)
#: The finest period allowed on a model's input, pixels (Nyquist: 2).
MIN_PERIOD = 2.5
#: Side of the zero-padded DFT that seeds the plane-wave fit (frequency step 2 pi / 128 rad/px).
DFT_SIDE = 128


def orientations() -> torch.Tensor:
    """The grating orientations, radians, ``[N_ORIENTATIONS]`` over [0, pi)."""
    return torch.arange(N_ORIENTATIONS, dtype=torch.float64) * math.pi / N_ORIENTATIONS


def phases() -> torch.Tensor:
    """The grating phases, radians, ``[N_PHASES]`` over [0, 2 pi)."""
    return torch.arange(N_PHASES, dtype=torch.float64) * 2 * math.pi / N_PHASES


def periods_for(width: int) -> tuple[float, ...]:
    """The periods (pixels on the model's input) for inputs ``width`` pixels wide:
    ``PERIODS_PER_28 * max(width / 28, MIN_PERIOD / PERIODS_PER_28[0])``."""
    scale = max(width / 28, MIN_PERIOD / PERIODS_PER_28[0])
    return tuple(period * scale for period in PERIODS_PER_28)


def _centred_grid(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(y, x)`` ``[H, W]`` in pixels from the image centre."""
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64) - (height - 1) / 2,
        torch.arange(width, dtype=torch.float64) - (width - 1) / 2,
        indexing="ij",
    )
    return y, x


def grating_images(
    size: tuple[int, int], angles: torch.Tensor, periods: torch.Tensor, offsets: torch.Tensor
) -> torch.Tensor:
    """Area-averaged gratings ``[O, F, P, H, W]`` (float64 in [0, 1]) on an ``(H, W)`` pixel grid
    for orientations ``angles`` ``[O]`` (radians), ``periods`` ``[F]`` (pixels, any: a period below
    2 px aliases, which :func:`estimate_wave` shows) and phases ``offsets`` ``[P]`` (radians)."""
    y, x = _centred_grid(*size)
    t = angles[:, None, None, None, None]
    period = periods[None, :, None, None, None]
    # Area average of cos over a unit pixel: the product of the two axes' sinc factors.
    contrast = torch.sinc(torch.cos(t) / period) * torch.sinc(torch.sin(t) / period)
    along = x * torch.cos(t) + y * torch.sin(t)  # [O, 1, 1, H, W]
    argument = 2 * math.pi * along / period + offsets[None, None, :, None, None]
    return 0.5 + 0.5 * contrast * torch.cos(argument)


def gratings(input_shape: tuple[int, ...]) -> torch.Tensor:
    """Every grating for inputs of ``input_shape`` ``(C, H, W)``: ``[O, F, P, C, H, W]``
    (orientation, period, phase), float32 in [0, 1], periods :func:`periods_for` ``(W)``."""
    channels, height, width = input_shape
    periods = torch.tensor(periods_for(width), dtype=torch.float64)
    images = grating_images((height, width), orientations(), periods, phases())
    return images[:, :, :, None].expand(-1, -1, -1, channels, -1, -1).float()


def _plane_wave_residual(k: np.ndarray, x: np.ndarray, y: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Residual of the best ``a + b cos(k.r) + c sin(k.r)`` fit to ``image`` (flattened)."""
    argument = k[0] * x + k[1] * y
    basis = np.stack([np.ones_like(argument), np.cos(argument), np.sin(argument)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, image, rcond=None)
    return basis @ coefficients - image


def estimate_wave(image: np.ndarray | torch.Tensor) -> tuple[float, float]:
    """``(orientation in degrees [0, 180), period in pixels)`` of the plane wave an image ``[H, W]``
    carries: the zero-padded DFT's peak, refined by a least-squares plane-wave fit (module
    docstring)."""
    pixels = np.asarray(image, dtype=np.float64)
    height, width = pixels.shape
    spectrum = np.abs(np.fft.fft2(pixels - pixels.mean(), s=(DFT_SIDE, DFT_SIDE)))
    row, column = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    frequencies = np.fft.fftfreq(DFT_SIDE) * 2 * math.pi  # rad/px
    seed = np.array([frequencies[column], frequencies[row]])
    y, x = (axis.numpy().ravel() for axis in _centred_grid(height, width))
    k = optimize.least_squares(_plane_wave_residual, seed, args=(x, y, pixels.ravel())).x
    return math.degrees(math.atan2(k[1], k[0])) % 180.0, 2 * math.pi / float(np.hypot(*k))


def orientation_error(a: float, b: float) -> float:
    """Smallest angle, degrees in [0, 90], between orientations ``a`` and ``b`` (degrees, mod 180)."""
    difference = abs(a - b) % 180.0
    return min(difference, 180.0 - difference)


def grating_orientation_errors(images: torch.Tensor, angles: torch.Tensor) -> np.ndarray:
    """Orientation error (degrees) of every grating in ``images`` ``[O, F, P, H, W]`` drawn at
    ``angles`` ``[O]`` (radians): ``[O, F, P]``."""
    errors = np.empty(images.shape[:3])
    for index in np.ndindex(*errors.shape):
        estimated, _ = estimate_wave(images[index])
        errors[index] = orientation_error(estimated, math.degrees(float(angles[index[0]])))
    return errors
