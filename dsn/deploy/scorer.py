"""The whole scorer as one module for export: uint8 images in, anomaly scores out.

The T fixed test rotations are a batch dimension inside it, then the frozen backbone at n
scales, pooling and the detector's view score (the flow's mean z², a baseline's bank distance):
exactly what :meth:`dsn.model.detector.Detector.score` computes, in a form ONNX can trace.
"""

from __future__ import annotations

import torch
from torch import nn

from dsn.model.detector import Detector
from dsn.model.views import fixed_angles


class Scorer(nn.Module):
    """images uint8 [B, 3, S, S] -> scores [B], with ``views`` fixed rotations per image."""

    def __init__(self, model: Detector, views: int):
        super().__init__()
        self.model = model
        self.register_buffer("angles", fixed_angles(views))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, t = images.shape[0], self.angles.numel()
        x = images.float().div(255.0).repeat_interleave(t, dim=0)
        feats = self.model.view_features(x, self.angles.repeat(b))
        return self.model.view_scores(feats).view(b, t).mean(dim=1)
