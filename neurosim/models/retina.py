"""The input stage shared by the Neocognitron pair: one image size on one retina for both members."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_to_retina(x: torch.Tensor, image_size: int, margin: int) -> torch.Tensor:
    """Images ``[B, 1, H, W]`` resized (bilinear) to ``image_size`` if they differ, then padded with
    ``margin`` zeros (background) on every side: ``[B, 1, image_size + 2 margin, ...]``."""
    if x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return F.pad(x, (margin,) * 4)
