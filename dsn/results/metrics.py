"""Image and pixel AUROC that are correct for raw anomaly scores of any magnitude.

torchmetrics treats predictions outside [0, 1] as logits and applies a sigmoid; NLL scores in
the hundreds then all become 1.0, ties everywhere, and the AUROC collapses towards 0.5. AUROC
depends only on the order of the scores, so dsn counts it directly (the Mann-Whitney statistic:
the share of (defective, good) pairs in the right order, ties counting half), in the scores' own
precision. Only the good scores are sorted, without an index array, so pooling every pixel of
Magnetic Tile's 583 test maps (117 M values) takes about a gigabyte. Curves drawn with
torchmetrics get the scores' dense ranks in [0, 1] (``rank_scale``): same order, no sigmoid.
"""

from __future__ import annotations

import numpy as np
import torch


class UndefinedAUROC(ValueError):
    """AUROC needs both good and defective images; the message says which are missing."""


def rank_scale(scores: torch.Tensor) -> torch.Tensor:
    """Dense ranks of ``scores`` mapped to [0, 1] (equal scores get equal values)."""
    uniq, inverse = torch.unique(scores.double(), return_inverse=True)
    return inverse.double() / max(len(uniq) - 1, 1)


def has_both_classes(labels: torch.Tensor) -> bool:
    """Good (0) and defective (1) labels both present: what AUROC and ROC curves need."""
    return bool((labels == 0).any()) and bool((labels == 1).any())


def image_auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) against 0/1 ``labels``."""
    scores, labels = scores.detach().flatten().cpu(), labels.detach().flatten().cpu()
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.numel()} scores for {labels.numel()} labels")
    if not torch.isfinite(scores).all():
        raise ValueError(
            "anomaly scores contain NaN or inf: the flow diverged; retrain with a lower "
            "model.optimizer.lr or check the input images"
        )
    if not has_both_classes(labels):
        n_bad, n_good = int((labels == 1).sum()), int((labels == 0).sum())
        missing = "defective" if n_bad == 0 else "good"
        raise UndefinedAUROC(
            f"AUROC is undefined: the test set has no {missing} images ({n_good} good, {n_bad} defective)"
        )
    if scores.dtype not in (torch.float32, torch.float64):  # numpy has no bfloat16
        scores = scores.double()
    good = np.sort(scores[labels == 0].numpy())
    bad = scores[labels == 1].numpy()
    below = np.searchsorted(good, bad, side="left")  # good scores under each defective one
    tied = np.searchsorted(good, bad, side="right") - below
    wins = int(below.sum(dtype=np.int64)) + 0.5 * int(tied.sum(dtype=np.int64))
    return wins / (len(good) * len(bad))


def pixel_auroc(maps: torch.Tensor, masks: torch.Tensor) -> float:
    """AUROC of anomaly-map values against ground-truth pixels, pooled over all test images
    (good images contribute their all-zero masks). maps [N, H, W], masks [N, 1|-, H, W]."""
    return image_auroc(maps.flatten(), masks.flatten())
