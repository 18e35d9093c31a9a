"""The whole scorer as one module for export: uint8 images in, anomaly scores out.

The T fixed test rotations are a batch dimension inside it, then the frozen backbone at n
scales, pooling, the flow and the mean z²: exactly what :meth:`DifferModel.score` computes,
in a form ONNX can trace.
"""

from __future__ import annotations

import torch
from torch import nn

from dsn.model.loss import view_scores
from dsn.model.torch_model import DifferModel
from dsn.model.views import fixed_angles


class Scorer(nn.Module):
    """images uint8 [B, 3, S, S] -> scores [B], with ``views`` fixed rotations per image."""

    def __init__(self, model: DifferModel, views: int):
        super().__init__()
        self.model = model
        self.register_buffer("angles", fixed_angles(views))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, t = images.shape[0], self.angles.numel()
        x = images.float().div(255.0).repeat_interleave(t, dim=0)
        feats = self.model.view_features(x, self.angles.repeat(b))
        z, _ = self.model.flow(feats)
        return view_scores(z).view(b, t).mean(dim=1)
