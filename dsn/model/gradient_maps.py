"""Gradient maps: where in the image the anomaly score comes from (the reference's method; any
detector whose view score is differentiable: the flow, the global kNN).

For fixed rotations k * 360 / T of the image, the gradient of the score with respect to the
input pixels is taken in the original frame (the rotation is differentiated through, which
rotates each gradient back), blurred with a Gaussian (sigma 3 px), |.| averaged over rotations
and colour channels, and squared. The reference also min-max normalises each map; dsn does that
only to draw it (``dsn.results.plots``): pixel AUROC and AUPRO pool the pixels of all test
images, which needs every map on the model's one scale (per-image scaling lifts each good
image's faintest response to 1).
"""

from __future__ import annotations

from typing import Protocol

import torch

from dsn.model.map_filters import blur
from dsn.model.views import fixed_angles


class ViewScorer(Protocol):
    """What a gradient map needs of a detector (:class:`dsn.model.detector.Detector`)."""

    device: torch.device

    def embed(self, images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor: ...

    def view_scores(self, features: torch.Tensor) -> torch.Tensor: ...


def gradient_map(
    model: ViewScorer, image: torch.Tensor, n_rotations: int, sigma: float = 3.0, chunk: int = 8
) -> torch.Tensor:
    """image uint8 or [0, 1] float [3, S, S] -> map [S, S] >= 0 (higher = more anomalous)."""
    device = model.device
    x = image.to(device)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    angles = fixed_angles(n_rotations).to(device)
    acc = torch.zeros(x.shape[-2:], device=device)
    for start in range(0, n_rotations, chunk):
        a = angles[start : start + chunk]
        xs = x.unsqueeze(0).expand(len(a), *x.shape).clone().requires_grad_(True)
        with torch.enable_grad():
            feats = model.embed(xs, a.unsqueeze(1)).squeeze(1)  # each copy under its own rotation
            model.view_scores(feats).sum().backward()
        acc += blur(xs.grad, sigma).abs().mean(dim=1).sum(dim=0)
    return (acc / n_rotations) ** 2
