"""Same-feature baseline: one Gaussian fitted to the training rows, the Mahalanobis distance as
the score (PaDiM's idea, Defard et al. 2021, at image level: a view is one pooled row; on patch
features one Gaussian serves every position and a view scores as its farthest patch).

The covariance is shrunk toward a scaled identity, by Ledoit and Wolf's estimate of the best
weight (``shrinkage: auto``) or a fixed weight in [0, 1]: 209 images x 64 views give 13k rows of
384 features, where the sample covariance is well conditioned, but a wide tap or a small
category would not be. Fitting is one pass, in float64, over chunks of rows.
"""

from __future__ import annotations

import torch

from dsn.model.heads.base import FittedHead

CHUNK_ROWS = 16_384


def ledoit_wolf(rows: torch.Tensor, mean: torch.Tensor) -> tuple[torch.Tensor, float]:
    """(sample covariance [p, p], Ledoit-Wolf shrinkage weight) of ``rows`` [n, p] (float64)."""
    n, p = rows.shape
    xtx = torch.zeros(p, p, dtype=torch.float64)
    x2tx2 = torch.zeros(p, p, dtype=torch.float64)
    for start in range(0, n, CHUNK_ROWS):
        x = rows[start : start + CHUNK_ROWS].double() - mean
        xtx += x.T @ x
        x2 = x * x
        x2tx2 += x2.T @ x2
    cov = xtx / n
    mu = torch.trace(cov) / p
    delta = ((cov - mu * torch.eye(p, dtype=torch.float64)) ** 2).sum() / p
    beta = ((x2tx2.sum() / n - (cov**2).sum()) / (p * n)).clamp_min(0.0)
    weight = 0.0 if float(delta) == 0.0 else float(torch.clamp(beta / delta, max=1.0))
    return cov, weight


class GaussianHead(FittedHead):
    """``shrinkage``: ``auto`` (Ledoit-Wolf) or a weight in [0, 1] of the scaled identity."""

    kind = "gaussian"
    tiny: dict = {}

    def __init__(self, layout, seed: int, *, shrinkage: str | float):
        super().__init__(layout, seed)
        if shrinkage != "auto" and not (isinstance(shrinkage, (int, float)) and 0.0 <= shrinkage <= 1.0):
            raise ValueError(f"model.head.shrinkage must be 'auto' or a number in [0, 1], got {shrinkage!r}")
        self.shrinkage = shrinkage
        width = layout.width
        self.register_buffer("mean", torch.zeros(width))
        # d(x)^2 = |(x - mean) @ whiten|^2, whiten = the inverse Cholesky factor of the covariance, transposed
        self.register_buffer("whiten", torch.zeros(width, width))
        self.register_buffer("shrunk_by", torch.tensor(float("nan")))  # the weight used; NaN until fitted

    @property
    def fitted(self) -> bool:
        return not torch.isnan(self.shrunk_by).item()

    def fit(self, rows: torch.Tensor) -> None:
        if rows.shape[0] < 2:
            raise ValueError(f"a Gaussian needs at least 2 training rows, got {rows.shape[0]}")
        mean = rows.double().mean(dim=0)
        cov, auto = ledoit_wolf(rows, mean)
        weight = auto if self.shrinkage == "auto" else float(self.shrinkage)
        p = cov.shape[0]
        target = torch.trace(cov) / p * torch.eye(p, dtype=torch.float64)
        shrunk = (1.0 - weight) * cov + weight * target
        chol = torch.linalg.cholesky(shrunk + 1e-10 * torch.trace(cov) / p * torch.eye(p, dtype=torch.float64))
        self.mean = mean.float().to(self.mean.device)
        self.whiten = torch.linalg.inv(chol).T.float().to(self.whiten.device)
        self.shrunk_by = torch.tensor(weight, device=self.shrunk_by.device)

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        with torch.autocast(features.device.type, enabled=False):
            d = (self.rows(features).float() - self.mean) @ self.whiten
            return d.pow(2).sum(dim=1).sqrt().view(features.shape[0], self.layout.rows)
