"""The two steps every anomaly map shares, whatever made it (input gradients, patch distances):
a Gaussian blur in pixels of the input, and scaling to [0, 1] per image."""

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
