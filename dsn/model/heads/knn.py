"""Same-feature baseline: nearest neighbours in a memory bank of training rows.

On pooled features (one row per view) this is the global kNN on exactly the flow's input: the
row every flow result should be read against. On patch features it is PatchCore (Roth et al.
2022): the bank keeps ``bank_size`` training patches (random or greedy coreset), a view scores as
its farthest patch, and the patch distances, upsampled and blurred by ``sigma`` pixels, are its
anomaly map. Fitting stores rows (one pass, no optimiser)."""

from __future__ import annotations

import torch

from dsn.model.heads.base import FittedHead
from dsn.model.memory_bank import MemoryBank, RowStream


class NearestNeighbourHead(FittedHead):
    """``k`` neighbours averaged into a row's distance, ``metric`` l2 or cosine; ``bank_size`` rows
    kept (None: all) by ``subsample`` (all, random, coreset; seeded by the run's seed); ``sigma``:
    blur of the patch anomaly map in pixels (patch features only)."""

    kind = "knn"
    tiny = {"bank_size": 2000, "subsample": "random"}

    def __init__(
        self,
        layout,
        seed: int,
        *,
        k: int,
        metric: str,
        bank_size: int | None,
        subsample: str,
        sigma: float,
    ):
        super().__init__(layout, seed)
        if sigma < 0:
            raise ValueError(f"model.head.sigma must be >= 0, got {sigma}")
        self.memory = MemoryBank(layout.width, k=k, metric=metric, size=bank_size, subsample=subsample, seed=seed)
        self.map_sigma = float(sigma)

    @property
    def fitted(self) -> bool:
        return self.memory.fitted

    def stream(self, total: int) -> RowStream:
        return self.memory.stream(total)

    def fit(self, rows: torch.Tensor) -> None:
        self.memory.fit(rows)

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.memory.distances(self.rows(features)).view(features.shape[0], self.layout.rows)

    def size(self) -> dict[str, int]:
        rows = self.memory.rows
        return {"head_params": 0, "bank_rows": int(rows.shape[0]), "bank_width": int(rows.shape[1])}
