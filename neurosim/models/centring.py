"""Subtracting the mean training image, learnt online and without labels.

A competitive layer on un-centred inputs has an attractor at the *average* input: every image of
a data set with overlapping shapes (Fashion-MNIST's garments) has a high overlap with the mean
image, so a unit that drifts towards the mean wins most images and starves the rest (see
:mod:`neurosim.models.krotov`). Removing the mean,

    x_c = x - m,    m = (1 / n) sum_{j <= n} x_j     (the images seen in training so far)

takes that direction out. ``m`` is a cumulative average over the images the module sees in
training mode (the cumulative moving average of ``torch.nn.BatchNorm1d(momentum=None)``, without
the division by the standard deviation, which would amplify the near-constant border pixels);
after whole passes over a training set it is that set's mean image, whatever the batch size. In
evaluation mode ``m`` is fixed. No label is used. Biologically it is the adaptation of early
visual neurons to the mean luminance of their input, which is why a Hebbian model may use it.

Shapes: input ``[B, D]``; output ``[B, D]``. Buffers ``mean [D]`` and ``count`` (images seen,
stored with the model so a resumed run continues the same average).
"""

from __future__ import annotations

import torch
from torch import nn


class RunningMeanCentring(nn.Module):
    """``x - m`` with ``m`` the cumulative mean of the training-mode inputs seen so far."""

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                batch = x.detach()
                self.count += batch.shape[0]
                # m_n = m_{n-B} + (sum of the batch - B m_{n-B}) / n: the exact running average.
                self.mean += (batch.sum(0) - batch.shape[0] * self.mean) / self.count.to(self.mean.dtype)
        return x - self.mean
