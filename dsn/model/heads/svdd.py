"""A one-class head that is neither a flow nor a nearest neighbour: Deep SVDD (Ruff et al. 2018)
on the frozen features. A small bias-free network maps the training views' features close to a
fixed centre c, the mean of its outputs on the first training batch (kept in the checkpoint); a
row's score is its squared distance to c. No biases and a fixed c keep the trivial answer
(every input mapped to c) out of reach, as in the paper; the weight decay of ``model.optimizer``
is its regulariser. Its randomness is the network's initialisation (the run's seed).
"""

from __future__ import annotations

import torch
from torch import nn

from dsn.model.heads.base import GradientHead

MIN_CENTRE = 0.1  # a centre coordinate this close to 0 is pushed out to it (the paper's guard)


class SVDDHead(GradientHead):
    """``hidden``: width of the network's one hidden layer; ``out_features``: width of its output."""

    kind = "svdd"
    tiny = {"hidden": 16, "out_features": 8}

    def __init__(self, layout, seed: int, *, hidden: int, out_features: int):
        super().__init__(layout, seed)
        for key, value in (("hidden", hidden), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model.head.{key} must be an integer >= 1, got {value!r}")
        self.net = nn.Sequential(
            nn.Linear(layout.width, hidden, bias=False),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, out_features, bias=False),
        )
        self.register_buffer("centre", torch.zeros(out_features))
        self.register_buffer("centred", torch.tensor(False))

    def distances(self, rows: torch.Tensor) -> torch.Tensor:
        return (self.net(rows) - self.centre).pow(2).sum(dim=1)

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        rows = self.rows(features)
        if not self.centred:
            with torch.no_grad():
                c = self.net(rows).mean(dim=0)
                c = torch.where(c.abs() < MIN_CENTRE, torch.where(c < 0, -MIN_CENTRE, MIN_CENTRE), c)
                self.centre.copy_(c)
                self.centred.fill_(True)
        return self.distances(rows).mean()

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.distances(self.rows(features)).view(features.shape[0], self.layout.rows)
