"""DifferNet / DifferSqueezeNet as a plain PyTorch module (no Lightning, Hydra or W&B).

Data flows one way: image -> views -> frozen backbone at n scales -> pooled features -> flow -> z
-> score. The constructor takes plain values only, so a checkpoint's hyperparameters rebuild it.
"""

from __future__ import annotations

import torch

from dsn.model.backbones import build_backbone
from dsn.model.embedder import ViewEmbedder
from dsn.model.features import MultiScaleFeatures
from dsn.model.flow import CouplingFlow
from dsn.model.loss import view_scores as mean_square


class DifferModel(ViewEmbedder):
    """Frozen backbone + multi-scale pooling + coupling flow.

    Args:
        backbone: name in :data:`dsn.model.backbones.BACKBONES`.
        n_features: backbone width tapped (e.g. 128 for DifferSqueezeNet, 256 for DifferNet).
        n_scales: number of input scales (full, 1/2, 1/4 ...).
        weights: ``"imagenet"``, a local weights file, or ``"none"``.
        n_blocks, hidden, clamp: the flow's coupling blocks, subnet width and soft clamp.
        rotation_mode: interpolation of rotated views (``"nearest"`` as the reference).
        scale_mode: interpolation used to shrink the input to the smaller scales.
        chunk: images per backbone forward pass (bounds memory; results do not depend on it).
    """

    def __init__(
        self,
        *,
        backbone: str,
        n_features: int,
        n_scales: int,
        weights: str | None,
        n_blocks: int,
        hidden: int,
        clamp: float,
        rotation_mode: str,
        scale_mode: str,
        chunk: int,
    ):
        super().__init__()
        self.features = MultiScaleFeatures(
            build_backbone(backbone, n_features, weights), width=n_features, n_scales=n_scales, scale_mode=scale_mode
        )
        self.flow = CouplingFlow(self.features.out_features, n_blocks=n_blocks, hidden=hidden, clamp=clamp)
        self.rotation_mode = rotation_mode
        self.chunk = chunk

    @property
    def n_flow_features(self) -> int:
        return self.flow.n_features

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow on features [..., F] -> (z [..., F], log|det J| [...])."""
        lead = features.shape[:-1]
        z, logdet = self.flow(features.reshape(-1, features.shape[-1]))
        return z.view(*lead, -1), logdet.view(lead)

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Mean z² of each view's flow output: [N, F] -> [N] (the log-det is left out, as in the
        reference)."""
        z, _ = self.flow(features)
        return mean_square(z)
