"""The normalizing flow: a stack of DifferNet coupling blocks built from nflows transforms.

Each block is a fixed permutation seeded by the block index, then two soft-clamped affine
couplings on complementary halves (first half from the second, then the second from the new
first), so both halves change in every block, as in the reference.
"""

from __future__ import annotations

import torch
from nflows.transforms.base import CompositeTransform
from nflows.transforms.permutations import Permutation
from torch import nn

from dsn.model.coupling import SoftClampAffineCoupling


def block_permutation(n_features: int, block_index: int) -> torch.Tensor:
    """The fixed permutation of block ``block_index`` (independent of the global RNG)."""
    return torch.randperm(n_features, generator=torch.Generator().manual_seed(block_index))


class CouplingFlow(nn.Module):
    """Maps ``n_features``-vectors to a standard normal. ``forward(x) -> (z, log|det dz/dx|)``."""

    def __init__(self, n_features: int, *, n_blocks: int, hidden: int, clamp: float):
        super().__init__()
        if n_features < 2:
            raise ValueError(f"the flow needs at least 2 input features, got {n_features}")
        if n_blocks < 1 or hidden < 1:
            raise ValueError(f"model.head.n_blocks and model.head.hidden must be positive, got {n_blocks}, {hidden}")
        self.n_features = n_features
        first_half = torch.arange(n_features) < n_features // 2
        mask = torch.where(first_half, 1, -1)
        blocks = []
        for k in range(n_blocks):
            blocks += [
                Permutation(block_permutation(n_features, k)),
                SoftClampAffineCoupling(mask, hidden, clamp),
                SoftClampAffineCoupling(-mask, hidden, clamp),
            ]
        self.transform = CompositeTransform(blocks)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"the flow takes [N, {self.n_features}] features, got {tuple(x.shape)}: "
                f"the feature width must equal model.features.n_features x model.features.n_scales"
            )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(x)
        return self.transform(x)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check(z)
        return self.transform.inverse(z)
