"""The training objective: negative log-likelihood under a standard normal, per feature."""

from __future__ import annotations

import torch


def nll_loss(z: torch.Tensor, logabsdet: torch.Tensor) -> torch.Tensor:
    """mean over the batch of (0.5 * sum(z^2) - log|det J|) / n_features (the reference's loss;
    the constant 0.5 * log(2 pi) per feature is left out)."""
    return (0.5 * z.pow(2).sum(dim=1) - logabsdet).mean() / z.shape[1]
