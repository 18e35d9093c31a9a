"""Steps on anomaly maps, whatever made them (input gradients, patch distances): the Gaussian
blur every map gets, in pixels of the input, and the per-image scaling to [0, 1] used only to
draw a map (metrics need the maps' common scale)."""

from __future__ import annotations

import math

import torch
import torchvision.transforms.v2.functional as TF


def blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [..., H, W] maps with standard deviation ``sigma`` pixels (kernel 6 sigma + 1)."""
    k = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(maps, [k, k], [sigma, sigma])


def unit_range(m: torch.Tensor) -> torch.Tensor:
    """Min-max scaling to [0, 1] (1 = most anomalous); a flat map stays 0."""
    return (m - m.min()) / (m.max() - m.min()).clamp_min(1e-12)
