"""Gradient maps: where in the image the anomaly score comes from (the reference's method; any
detector whose view score is differentiable: the flow, the global kNN).

For fixed rotations k * 360 / T of the image, the gradient of the score with respect to the
input pixels is taken in the original frame (the rotation is differentiated through, which
rotates each gradient back), blurred with a Gaussian (sigma 3 px), |.| averaged over rotations
and colour channels, squared and min-max normalised per image.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torchvision.transforms.v2.functional as TF

from dsn.model.views import fixed_angles

if TYPE_CHECKING:
    from dsn.model.embedder import ViewEmbedder


def gradient_map(
    model: ViewEmbedder, image: torch.Tensor, n_rotations: int, sigma: float = 3.0, chunk: int = 8
) -> torch.Tensor:
    """image uint8 or [0, 1] float [3, S, S] -> map [S, S] in [0, 1] (1 = most anomalous)."""
    device = model.device
    x = image.to(device)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    angles = fixed_angles(n_rotations).to(device)
    k = 2 * math.ceil(3 * sigma) + 1
    acc = torch.zeros(x.shape[-2:], device=device)
    for start in range(0, n_rotations, chunk):
        a = angles[start : start + chunk]
        xs = x.unsqueeze(0).expand(len(a), *x.shape).clone().requires_grad_(True)
        with torch.enable_grad():
            feats = model.embed(xs, a.unsqueeze(1)).squeeze(1)  # each copy under its own rotation
            model.view_scores(feats).sum().backward()
        grad = TF.gaussian_blur(xs.grad, [k, k], [sigma, sigma])
        acc += grad.abs().mean(dim=1).sum(dim=0)
    m = (acc / n_rotations) ** 2
    return (m - m.min()) / (m.max() - m.min()).clamp_min(1e-12)
