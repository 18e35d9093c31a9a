"""The paper's head: a normalizing flow of soft-clamped affine couplings (:mod:`dsn.model.flow`)
trained to map good features to a standard normal; a row's score is its mean z², the reference's
(the log-det is left out of the score, not of the loss). On pooled features a view is one row,
as in DifferNet; on patch features each patch is a row and a view scores as its worst patch."""

from __future__ import annotations

import torch

from dsn.model.flow import CouplingFlow
from dsn.model.heads.base import GradientHead
from dsn.model.loss import nll_loss
from dsn.model.loss import view_scores as mean_square


class FlowHead(GradientHead):
    """``n_blocks`` coupling blocks, subnet width ``hidden``, soft clamp ``clamp`` of the log-scale."""

    kind = "flow"
    tiny = {"n_blocks": 2, "hidden": 32}

    def __init__(self, layout, seed: int, *, n_blocks: int, hidden: int, clamp: float):
        super().__init__(layout, seed)
        self.flow = CouplingFlow(layout.width, n_blocks=n_blocks, hidden=hidden, clamp=clamp)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [n, width] -> (z [n, width], log|det J| [n])."""
        return self.flow(features)

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        z, logdet = self.flow(self.rows(features))
        return nll_loss(z, logdet)

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        z, _ = self.flow(self.rows(features))
        return mean_square(z).view(features.shape[0], self.layout.rows)

    def size(self) -> dict[str, int]:
        return {**super().size(), "flow_params": sum(p.numel() for p in self.flow.parameters())}
