"""Same-feature baseline 2: a patch-level memory bank in the PatchCore manner (Roth et al. 2022).

Every training image gives grid x grid patch features (:class:`PatchFeatures`); the bank keeps
``bank_size`` of them, chosen by greedy coreset or a seeded random subset. A test image's score
is the largest, over its patches, distance to the nearest bank patch; the distances over the
grid, upsampled and blurred, are its anomaly map (pixel AUROC without gradients).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dsn.model.embedder import ViewEmbedder
from dsn.model.map_filters import blur
from dsn.model.memory_bank import MemoryBank
from dsn.model.patch_features import PatchFeatures


class PatchModel(ViewEmbedder):
    """Args: backbone and ``patch_taps`` (widths read), ``neighbourhood`` (odd pooling window),
    ``grid`` (patches per side); the bank as :class:`dsn.model.knn_model.KNNModel`'s; ``sigma``
    the Gaussian blur of the anomaly map in pixels of the input."""

    def __init__(
        self,
        *,
        backbone: str,
        patch_taps: list[int],
        weights: str | None,
        neighbourhood: int,
        grid: int,
        rotation_mode: str,
        chunk: int,
        k: int,
        metric: str,
        bank_size: int | None,
        subsample: str,
        seed: int,
        sigma: float,
    ):
        super().__init__()
        self.features = PatchFeatures(
            backbone, taps=list(patch_taps), weights=weights, neighbourhood=neighbourhood, grid=grid
        )
        self.memory = MemoryBank(
            self.features.channels, k=k, metric=metric, size=bank_size, subsample=subsample, seed=seed
        )
        self.rotation_mode = rotation_mode
        self.chunk = chunk
        self.sigma = sigma

    def bank_rows(self, features: torch.Tensor) -> torch.Tensor:
        """Training patch features [N, V, grid*grid*C] -> the bank's candidate rows: one per patch."""
        return features.reshape(-1, self.features.channels)

    def fit(self, features: torch.Tensor) -> None:
        """Training patch features [N, V, grid*grid*C] -> the bank of (a subsample of) all patches."""
        self.memory.fit(self.bank_rows(features))

    def patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        """[N, grid*grid*C] -> nearest-bank distance of every patch, [N, grid, grid]."""
        g, c = self.features.grid, self.features.channels
        return self.memory.distances(features.reshape(-1, c)).view(-1, g, g)

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.patch_scores(features).flatten(1).max(dim=1).values

    @torch.no_grad()
    def anomaly_map(self, image: torch.Tensor, n_rotations: int) -> torch.Tensor:
        """The patch distances of the unrotated image, bilinearly upsampled to its size and
        blurred (``sigma``); raw distances, comparable across images (``n_rotations`` is not used)."""
        x = image.to(self.device).unsqueeze(0)
        feats = self.embed(x, torch.zeros(1, 1, device=x.device)).squeeze(1)
        m = F.interpolate(self.patch_scores(feats).unsqueeze(1), size=image.shape[-2:], mode="bilinear")
        if self.sigma > 0:
            m = blur(m, self.sigma)
        return m[0, 0]
