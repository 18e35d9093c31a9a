"""The training objective (negative log-likelihood under a standard normal, per feature) and
the anomaly score of a view (its mean z², the same likelihood without the log-det term)."""

from __future__ import annotations

import torch


def nll_loss(z: torch.Tensor, logabsdet: torch.Tensor) -> torch.Tensor:
    """mean over the batch of (0.5 * sum(z^2) - log|det J|) / n_features (the reference's loss;
    the constant 0.5 * log(2 pi) per feature is left out)."""
    return (0.5 * z.pow(2).sum(dim=1) - logabsdet).mean() / z.shape[1]


def view_scores(z: torch.Tensor) -> torch.Tensor:
    """Mean z² over the features: the anomaly score of each view, [..., F] -> [...]. An image's
    score is the mean over its views (the reference leaves the log-det out of the score)."""
    return z.pow(2).mean(dim=-1)
