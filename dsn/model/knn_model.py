"""Same-feature baseline 1: global k-nearest neighbours on exactly the flow's input.

The backbone, tap, scales, pooling and views are DifferNet's (:class:`MultiScaleFeatures`,
the same view code through :class:`ViewEmbedder`); only the head differs: instead of a flow
trained to make good features Gaussian, "fitting" stores the training features, and a view's
score is its mean distance to the k nearest of them. Whatever this scores, the features did,
not the flow: it is the row every flow result should be read against.
"""

from __future__ import annotations

import torch

from dsn.model.backbones import build_backbone
from dsn.model.embedder import ViewEmbedder
from dsn.model.features import MultiScaleFeatures
from dsn.model.memory_bank import MemoryBank


class KNNModel(ViewEmbedder):
    """Frozen backbone + multi-scale pooling (as :class:`dsn.model.DifferModel`) + a memory bank.

    Args (the feature ones as DifferModel's):
        k: neighbours averaged into a view's score (1 = distance to the nearest training view).
        metric: ``"l2"`` or ``"cosine"``.
        bank_size: rows kept (None: every training view); ``subsample`` says how they are picked
            (``"all"``, ``"random"``, ``"coreset"``), ``seed`` seeds the pick.
    """

    def __init__(
        self,
        *,
        backbone: str,
        n_features: int,
        n_scales: int,
        weights: str | None,
        rotation_mode: str,
        scale_mode: str,
        chunk: int,
        k: int,
        metric: str,
        bank_size: int | None,
        subsample: str,
        seed: int,
    ):
        super().__init__()
        self.features = MultiScaleFeatures(
            build_backbone(backbone, n_features, weights), width=n_features, n_scales=n_scales, scale_mode=scale_mode
        )
        self.memory = MemoryBank(
            self.features.out_features, k=k, metric=metric, size=bank_size, subsample=subsample, seed=seed
        )
        self.rotation_mode = rotation_mode
        self.chunk = chunk

    def bank_rows(self, features: torch.Tensor) -> torch.Tensor:
        """Training features [N, V, F] -> the bank's candidate rows: one per view, [N*V, F]."""
        return features.reshape(-1, features.shape[-1])

    def fit(self, features: torch.Tensor) -> None:
        """Training features [N, V, F] (every view of every image) -> the bank."""
        self.memory.fit(self.bank_rows(features))

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.memory.distances(features)
