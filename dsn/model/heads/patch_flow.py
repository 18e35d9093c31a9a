"""A flow on every patch (the idea of CFLOW-AD, FastFlow and CS-Flow, on dsn's couplings): the
paper's coupling stack (:mod:`dsn.model.flow`) maps each patch feature vector of a patch grid
(``model/features=squeezenet1_1_patches``) to a standard normal, optionally conditioned on where
the patch sits (a sine/cosine encoding of its row and column, fed to every coupling's subnet as
nflows' ``context``), trained by maximum likelihood on the training images' patches.

Unlike the global flow, a patch's score is its full negative log-likelihood per feature,
``0.5 * mean(z²) - log|det J| / width``: with position conditioning the log-det differs from
patch to patch, and leaving it out would score a patch against the wrong density. A view scores
as a high quantile of its patch scores (``score_quantile``: 1.0 = the worst patch); its anomaly
map is the patch scores upsampled and blurred by ``sigma`` pixels (:meth:`Detector.anomaly_map`).
Each training step reads ``train_patches`` random patches of every view (all: null), which makes
a step cost what a pooled flow's step costs instead of 784 times as much.

Patch features of a frozen ReLU backbone sit far from a standard normal (the first steps' loss is
in the hundreds), so the flow starts with an affine normalisation fixed from the first training
batch (each channel's mean and spread: Glow's data-dependent ActNorm initialisation, kept in the
checkpoint like the SVDD head's centre); its constant log-det is part of every patch's NLL.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dsn.model.coupling import SoftClampAffineCoupling, Subnet
from dsn.model.flow import CouplingFlow
from dsn.model.heads.base import GradientHead


class ContextSubnet(Subnet):
    """The coupling subnet reading the patch's position encoding beside the coupling's input."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return nn.Sequential.forward(self, torch.cat([x, context], dim=1))


def position_encoding(grid: int, dims: int) -> torch.Tensor:
    """[grid * grid, dims] (row-major like the patch rows): for the row and the column each,
    sines and cosines of ``dims / 4`` frequencies (pi, 2 pi, 4 pi, ...) of the position in [0, 1]."""
    pos = torch.arange(grid, dtype=torch.float32) / max(grid - 1, 1)
    freqs = math.pi * 2.0 ** torch.arange(dims // 4, dtype=torch.float32)
    angles = pos[:, None] * freqs[None, :]  # [grid, dims / 4]
    axis = torch.cat([angles.sin(), angles.cos()], dim=1)  # [grid, dims / 2]
    rows = axis[:, None, :].expand(grid, grid, -1)
    cols = axis[None, :, :].expand(grid, grid, -1)
    return torch.cat([rows, cols], dim=2).reshape(grid * grid, dims)


class PatchFlowHead(GradientHead):
    """``n_blocks`` coupling blocks of subnet width ``hidden`` and soft clamp ``clamp`` on each
    patch; ``position_dims``: size of the position encoding given to the subnets (0: none, else a
    multiple of 4); ``train_patches``: patches per view in a training step (null: all);
    ``score_quantile``: the quantile of a view's patch scores that is its score (1.0: the max);
    ``sigma``: blur of the anomaly map in pixels."""

    kind = "patch_flow"
    tiny = {"n_blocks": 1, "hidden": 16, "position_dims": 4, "train_patches": 8}

    def __init__(
        self,
        layout,
        seed: int,
        *,
        n_blocks: int,
        hidden: int,
        clamp: float,
        position_dims: int,
        train_patches: int | None,
        score_quantile: float,
        sigma: float,
    ):
        super().__init__(layout, seed)
        if position_dims < 0 or position_dims % 4:
            raise ValueError(f"model.head.position_dims must be 0 or a positive multiple of 4, got {position_dims}")
        if train_patches is not None and train_patches < 1:
            raise ValueError(f"model.head.train_patches must be null (all) or >= 1, got {train_patches}")
        if not 0.0 < score_quantile <= 1.0:
            raise ValueError(f"model.head.score_quantile must be in (0, 1], got {score_quantile}")
        if sigma < 0:
            raise ValueError(f"model.head.sigma must be >= 0, got {sigma}")
        self.flow = CouplingFlow(layout.width, n_blocks=n_blocks, hidden=hidden, clamp=clamp)
        if position_dims:
            for coupling in self.flow.transform._transforms:
                if isinstance(coupling, SoftClampAffineCoupling):
                    n_in = coupling.num_identity_features + position_dims
                    coupling.transform_net = ContextSubnet(n_in, 2 * coupling.num_transform_features, hidden)
        grid = layout.grid or 1  # pooled features: one row at one place
        self.register_buffer("positions", position_encoding(grid, position_dims), persistent=False)
        self.register_buffer("shift", torch.zeros(layout.width))
        self.register_buffer("log_scale", torch.zeros(layout.width))
        self.register_buffer("normalised", torch.tensor(False))
        self.train_patches = train_patches
        self.score_quantile = float(score_quantile)
        self.map_sigma = float(sigma)

    def forward(self, rows: torch.Tensor, places: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [n, width] at patch places [n] (indices into the grid) -> (z [n, width], log|det J| [n])."""
        self.flow._check(rows)
        context = self.positions[places] if self.positions.shape[1] else None
        z, logdet = self.flow.transform((rows - self.shift) * self.log_scale.exp(), context)
        return z, logdet + self.log_scale.sum()

    def _normalise_from(self, features: torch.Tensor) -> None:
        """Fix the input normalisation from the first training batch's patches (once)."""
        rows = self.rows(features).detach().float()
        self.shift.copy_(rows.mean(dim=0))
        self.log_scale.copy_(-torch.log(rows.std(dim=0) + 1e-3))
        self.normalised.fill_(True)

    def _nll(self, features: torch.Tensor, pick: torch.Tensor | None) -> torch.Tensor:
        """Per-feature NLL of the patches ``pick`` [N, k] of each view (all: None) -> [N, k]."""
        n = features.shape[0]
        views = features.view(n, self.layout.rows, self.layout.width)
        if pick is None:
            pick = torch.arange(self.layout.rows, device=views.device).expand(n, -1)
        else:
            views = views.gather(1, pick.unsqueeze(-1).expand(-1, -1, self.layout.width))
        k = pick.shape[1]
        z, logdet = self(views.reshape(n * k, -1), pick.reshape(-1))
        return (0.5 * z.pow(2).mean(dim=1) - logdet / self.layout.width).view(n, k)

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        """Mean NLL of ``train_patches`` random patches of each view (drawn from the global RNG,
        which the run's seed fixes)."""
        if not self.normalised:
            self._normalise_from(features)
        k = self.train_patches
        if k is None or k >= self.layout.rows:
            return self._nll(features, None).mean()
        pick = torch.rand(features.shape[0], self.layout.rows, device=features.device).argsort(dim=1)[:, :k]
        return self._nll(features, pick).mean()

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self._nll(features, None)

    def reduce(self, local: torch.Tensor) -> torch.Tensor:
        if self.score_quantile >= 1.0:
            return local.max(dim=1).values
        return torch.quantile(local.float(), self.score_quantile, dim=1)

    def size(self) -> dict[str, int]:
        return {**super().size(), "flow_params": sum(p.numel() for p in self.flow.parameters())}
