"""The verdict on one score and its normalised value: the same words and numbers in dsn-predict
and in the torch-free edge runtime."""

from __future__ import annotations

import math


def verdict(score: float, threshold: float) -> str:
    """``defective`` at or above the stored threshold, else ``good``; ``no-threshold`` when the
    model was trained without held-out images (``data.val_fraction=0``)."""
    if math.isnan(threshold):
        return "no-threshold"
    return "defective" if score >= threshold else "good"


def normalized_score(score: float, threshold: float, low: float, high: float) -> float:
    """The score mapped so that the threshold is 0.5, scaled by the spread of the held-out good
    scores (``low`` .. ``high``) and clipped to [0, 1]; NaN when no threshold is stored."""
    if math.isnan(threshold):
        return math.nan
    return min(1.0, max(0.0, 0.5 + (score - threshold) / (2 * max(high - low, 1e-12))))
