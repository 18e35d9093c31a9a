"""Image and pixel AUROC: exact for raw NLL scores of any magnitude, ties handled, undefined said so."""

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from dsn.results.metrics import UndefinedAUROC, image_auroc, pixel_auroc


def mann_whitney_auroc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    return wins.mean().item()


def test_large_raw_scores_give_the_exact_auroc():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 40 + [1] * 60)
    scores = 1e4 + 50 * torch.rand(100, generator=g) + 20 * labels  # NLL-like magnitudes
    expected = mann_whitney_auroc(scores, labels)
    assert 0.75 < expected < 1.0
    assert image_auroc(scores, labels) == pytest.approx(expected, abs=1e-12)
    # what the naive call does with raw scores: sigmoid saturates everything to 1.0 -> 0.5
    assert float(binary_auroc(scores, labels)) == pytest.approx(0.5)


def test_ties_count_half():
    scores = torch.tensor([1.0, 2.0, 2.0, 3.0])
    labels = torch.tensor([0, 0, 1, 1])
    assert image_auroc(scores, labels) == pytest.approx(mann_whitney_auroc(scores, labels)) == 0.875


def test_negative_and_tiny_differences():
    scores = torch.tensor([-1e6, -1e6 + 1e-3, 5e9, 5e9 + 1.0], dtype=torch.float64)
    assert image_auroc(scores, torch.tensor([0, 1, 0, 1])) == pytest.approx(0.75)


@pytest.mark.parametrize("labels, missing", [([0, 0, 0], "no defective"), ([1, 1], "no good")])
def test_undefined_auroc_says_why(labels, missing):
    with pytest.raises(UndefinedAUROC, match=missing):
        image_auroc(torch.rand(len(labels)), torch.tensor(labels))


def test_nan_scores_are_an_error():
    with pytest.raises(ValueError, match="NaN"):
        image_auroc(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))


def test_scores_keep_their_own_precision_and_any_dtype():
    """Neighbouring float32 values stay ordered (no rounding through another type), and half
    precision or integer scores are accepted."""
    a = torch.tensor(1000.0)
    up = torch.nextafter(a, torch.tensor(2000.0))
    scores = torch.stack([a, up, a, up])
    assert image_auroc(scores, torch.tensor([0, 1, 0, 1])) == 1.0
    half = torch.tensor([1.0, 1.5, 1.0, 1.5], dtype=torch.bfloat16)
    assert image_auroc(half, torch.tensor([0, 1, 0, 1])) == 1.0
    assert image_auroc(torch.tensor([3, 1, 2, 2]), torch.tensor([1, 0, 0, 1])) == pytest.approx(0.875)


def test_pixel_auroc_pools_all_images_and_counts_ties_half():
    g = torch.Generator().manual_seed(0)
    maps = torch.randint(0, 5, (3, 6, 7), generator=g).float()  # coarse: many ties
    masks = (torch.rand(3, 1, 6, 7, generator=g) > 0.7).to(torch.uint8)
    expected = mann_whitney_auroc(maps.flatten(), masks.flatten())
    assert pixel_auroc(maps, masks) == pytest.approx(expected, abs=1e-12)


def test_auroc_by_defect_scores_good_against_each_type_alone():
    from dsn.results.run_metrics import auroc_by_defect

    defects = ["good", "good", "crack", "crack", "uneven", "uneven"]
    scores = torch.tensor([0.2, 0.4, 0.9, 0.8, 0.3, 0.1])  # cracks above every good image; uneven mixed
    assert auroc_by_defect(scores, defects) == {"crack": 1.0, "uneven": 0.25}
    assert auroc_by_defect(scores[2:], defects[2:]) == {}  # no good images: nothing to rank against
    with pytest.raises(ValueError, match="5 test scores for 6 test images"):
        auroc_by_defect(scores[:5], defects)
