"""Thresholds: quantile of held-out good scores, normalisation around 0.5, F1 on labelled data."""

import math

import pytest
import torch

from dsn.results.threshold import NO_THRESHOLD, f1_optimal, fit_threshold, normalize


def test_threshold_keeps_the_target_false_positive_rate():
    good = torch.arange(100, dtype=torch.float64)  # 0..99
    thr, lo, hi, fpr = fit_threshold(good, 0.05)
    assert (good > thr).double().mean() <= 0.05 and (lo, hi, fpr) == (0.0, 99.0, 0.05)
    assert fit_threshold(good, 0.0)[0] == 99.0  # no good image above it


def test_normalised_scores_put_the_threshold_at_one_half():
    stats = fit_threshold(torch.tensor([1.0, 2.0, 3.0]), 0.0)
    out = normalize(torch.tensor([3.0, 100.0, -100.0]), stats)
    assert out.tolist() == [0.5, 1.0, 0.0]
    assert math.isnan(float(normalize(torch.tensor([1.0]), NO_THRESHOLD)[0]))


def test_f1_optimal():
    thr, f1 = f1_optimal(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1]))
    assert thr == pytest.approx(0.8) and f1 == 1.0


def test_bad_settings():
    with pytest.raises(ValueError, match="val_fraction"):
        fit_threshold(torch.tensor([]), 0.01)
    with pytest.raises(ValueError, match="target_fpr"):
        fit_threshold(torch.tensor([1.0]), 1.5)


def test_f1_optimal_matches_brute_force_with_ties():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        scores = torch.randint(0, 12, (40,), generator=g).double() * 3.7 - 20  # raw scores with ties
        labels = (torch.rand(40, generator=g) < 0.4).long()
        best = max(
            (
                (2 * int(((scores >= t) & (labels == 1)).sum()))
                / max(int((scores >= t).sum()) + int((labels == 1).sum()), 1),
                -float(t),
            )
            for t in torch.unique(scores)
        )
        thr, f1 = f1_optimal(scores, labels)
        assert f1 == pytest.approx(best[0])
        assert thr == pytest.approx(-best[1]) or f1 == pytest.approx(
            2 * int(((scores >= thr) & (labels == 1)).sum()) / (int((scores >= thr).sum()) + int((labels == 1).sum()))
        )
