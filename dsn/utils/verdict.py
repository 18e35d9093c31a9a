"""The verdict on one score: the same words in dsn-predict and in the torch-free edge runtime."""

from __future__ import annotations

import math


def verdict(score: float, threshold: float) -> str:
    """``defective`` at or above the stored threshold, else ``good``; ``no-threshold`` when the
    model was trained without held-out images (``data.val_fraction=0``)."""
    if math.isnan(threshold):
        return "no-threshold"
    return "defective" if score >= threshold else "good"
