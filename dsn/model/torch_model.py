"""DifferNet / DifferSqueezeNet as a plain PyTorch module (no Lightning, Hydra or W&B).

Data flows one way: image -> views -> frozen backbone at n scales -> pooled features -> flow -> z
-> score. The constructor takes plain values only, so a checkpoint's hyperparameters rebuild it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch
from torch import nn

from dsn.model.backbones import build_backbone
from dsn.model.features import MultiScaleFeatures
from dsn.model.flow import CouplingFlow
from dsn.model.loss import view_scores
from dsn.model.views import jitter, normalize, rotate, to_unit


class DifferModel(nn.Module):
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

    @classmethod
    def from_hparams(cls, hparams: Mapping) -> DifferModel:
        """The model part of a run's hyperparameters (a config's ``model`` node, a checkpoint's)."""
        names = inspect.signature(cls.__init__).parameters.keys() - {"self"}
        return cls(**{k: hparams[k] for k in names})

    @property
    def n_flow_features(self) -> int:
        return self.flow.n_features

    def embed(
        self,
        images: torch.Tensor,
        angles: torch.Tensor,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Features of each image under each of its rotations: images [B, 3, H, W] (uint8 or
        float in [0, 1]), angles [B, V] degrees -> [B, V, n_flow_features].

        Runs without autograd unless ``images`` requires grad (gradient maps)."""
        b, v = angles.shape
        if images.shape[0] != b:
            raise ValueError(f"{images.shape[0]} images but angles for {b}")
        track = images.requires_grad
        out = []
        with torch.set_grad_enabled(track and torch.is_grad_enabled()):
            flat_idx = torch.arange(b, device=images.device).repeat_interleave(v)
            flat_angles = angles.reshape(-1)
            for start in range(0, b * v, self.chunk):
                idx = flat_idx[start : start + self.chunk]
                out.append(
                    self.view_features(
                        to_unit(images[idx]),
                        flat_angles[start : start + self.chunk],
                        brightness,
                        contrast,
                        saturation,
                        generator,
                    )
                )
        return torch.cat(out).view(b, v, -1)

    def view_features(
        self,
        x: torch.Tensor,
        angles: torch.Tensor,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One view per image: [N, 3, H, W] in [0, 1], angles [N] -> features [N, F]."""
        x = rotate(x, angles, self.rotation_mode)
        if brightness or contrast or saturation:
            x = jitter(x, brightness, contrast, saturation, generator)
        return self.features(normalize(x))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow on features [..., F] -> (z [..., F], log|det J| [...])."""
        lead = features.shape[:-1]
        z, logdet = self.flow(features.reshape(-1, features.shape[-1]))
        return z.view(*lead, -1), logdet.view(lead)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score per image: mean of z^2 over its T views and the features. [B, T, F] -> [B]."""
        z, _ = self(features)
        return view_scores(z).mean(dim=1)

    def score(self, images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image over its views: images [B, 3, H, W], angles [B, T] -> [B]."""
        return self.score_features(self.embed(images, angles))
