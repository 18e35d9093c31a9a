"""Patch features in the PatchCore manner: the frozen backbone's maps at one or two taps, each
averaged over a small neighbourhood of every position (local context without losing
resolution), brought to one ``grid x grid`` raster and concatenated along channels.

Output [N, grid * grid * C], position-major (row, column, channel), so that a batch of patch
features travels through the same [N, F] feature path (views, caches, scoring) as pooled ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dsn.model.backbones import BACKBONES, build_backbone, valid_widths


class PatchFeatures(nn.Module):
    """``taps``: backbone widths to read (e.g. SqueezeNet 1.1's 256 and 384, its mid-level fire
    modules), each one a tap of :data:`dsn.model.backbones.BACKBONES`."""

    def __init__(self, backbone: str, *, taps: list[int], weights: str | None, neighbourhood: int, grid: int):
        super().__init__()
        spec = BACKBONES[backbone] if backbone in BACKBONES else None
        taps = [int(t) for t in taps]
        if spec is None or not taps or any(t not in spec.taps for t in taps):
            valid = valid_widths(backbone) if spec else sorted(BACKBONES)
            raise ValueError(f"model.features.taps must be widths of backbone '{backbone}' ({valid}), got {taps}")
        if neighbourhood < 1 or neighbourhood % 2 == 0:
            raise ValueError(f"model.features.neighbourhood must be an odd number >= 1, got {neighbourhood}")
        if grid < 1:
            raise ValueError(f"model.features.grid must be at least 1, got {grid}")
        deepest = max(taps, key=lambda t: spec.taps[t])
        self.trunk = build_backbone(backbone, deepest, weights).to(memory_format=torch.channels_last)
        self.cut_at = {spec.taps[t] - 1: t for t in taps}  # index of the layer whose output is read
        self.channels = sum(taps)
        self.neighbourhood = neighbourhood
        self.grid = grid

    @property
    def out_features(self) -> int:
        return self.grid * self.grid * self.channels

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] normalised images -> patch features [N, C, grid, grid]."""
        x = x.contiguous(memory_format=torch.channels_last)
        read = []
        for i, layer in enumerate(self.trunk):
            x = layer(x)
            if i in self.cut_at:
                read.append(self._to_grid(F.avg_pool2d(x, self.neighbourhood, 1, self.neighbourhood // 2)))
        return torch.cat(read, dim=1)

    def _to_grid(self, fmap: torch.Tensor) -> torch.Tensor:
        if fmap.shape[-2] >= self.grid and fmap.shape[-1] >= self.grid:
            return F.adaptive_avg_pool2d(fmap, self.grid)
        return F.interpolate(fmap, size=(self.grid, self.grid), mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maps(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1)

    def train(self, mode: bool = True) -> PatchFeatures:
        """The backbone stays in eval mode whatever the caller asks (it is frozen)."""
        super().train(mode)
        self.trunk.eval()
        return self
