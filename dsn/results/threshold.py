"""Decision thresholds: "defective or not" for new images.

The threshold is chosen on defect-free images held out of training (a validation split of
``train/good``), for a target false-positive rate; the test set is never used for it. Scores
are also mapped to [0, 1] with the threshold at 0.5 (as anomalib does), so one number reads the
same across categories. The F1-optimal threshold on the test set is reported apart, as
information only.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torchmetrics.functional.classification import binary_precision_recall_curve

from dsn.results.metrics import rank_scale
from dsn.utils.verdict import normalized_score


class Decision(NamedTuple):
    """What a model stores to decide "defective": the threshold, the lowest and highest held-out
    good score (they scale normalised scores), and the false-positive rate it was set for. Kept
    in the module's ``decision`` buffer in this order; all NaN until a threshold is set."""

    threshold: float
    low: float
    high: float
    target_fpr: float

    @classmethod
    def of(cls, values) -> Decision:
        return cls(*(float(v) for v in values))


NO_THRESHOLD = Decision(math.nan, math.nan, math.nan, math.nan)


def fit_threshold(val_scores: torch.Tensor, target_fpr: float) -> Decision:
    """The (1 - fpr) quantile of held-out good images' scores, so that about ``target_fpr`` of
    good images score above it."""
    if val_scores.numel() == 0:
        raise ValueError("no held-out good images to set a threshold: set data.val_fraction > 0")
    if not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"threshold.target_fpr must be in [0, 1), got {target_fpr}")
    s = val_scores.double()
    thr = float(torch.quantile(s, 1.0 - target_fpr, interpolation="higher"))
    return Decision(thr, float(s.min()), float(s.max()), float(target_fpr))


def normalize(scores: torch.Tensor, decision: Decision) -> torch.Tensor:
    """Scores mapped so that the threshold is 0.5, scaled by the spread of the held-out good
    scores and clipped to [0, 1]. NaN when no threshold is stored."""
    thr, lo, hi, _ = decision
    return torch.tensor([normalized_score(float(s), thr, lo, hi) for s in scores.double()], dtype=torch.float64)


def f1_optimal(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(threshold, F1) maximising F1 on labelled scores: information about the test set only."""
    uniq = torch.unique(scores.double())
    # torchmetrics would squash raw scores with a sigmoid: hand it their ranks in [0, 1]
    precision, recall, thresholds = binary_precision_recall_curve(rank_scale(scores), labels.long())
    f1 = (2 * precision * recall / (precision + recall).clamp_min(1e-12))[:-1]  # the last point has no threshold
    if len(f1) == 0 or float(f1.max()) == 0.0:
        return math.nan, 0.0
    best = int(f1.argmax())
    return float(uniq[round(float(thresholds[best]) * max(len(uniq) - 1, 1))]), float(f1[best])
