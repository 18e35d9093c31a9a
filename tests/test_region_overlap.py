"""AUPRO: regions found as MVTec AD's evaluation finds them (8-connected), each region weighted
equally, the curve exact and cut at the FPR limit."""

from collections import deque

import pytest
import torch

from dsn.results.metrics import UndefinedAUROC, pixel_auroc
from dsn.results.region_overlap import label_regions, pixel_aupro


def flood_fill_regions(masks):
    """Reference labelling: breadth-first search over the 8 neighbours, image by image."""
    n, h, w = masks.shape
    out, count = torch.zeros(n, h, w, dtype=torch.int64), 0
    for i in range(n):
        for y0 in range(h):
            for x0 in range(w):
                if not masks[i, y0, x0] or out[i, y0, x0]:
                    continue
                count += 1
                out[i, y0, x0] = count
                todo = deque([(y0, x0)])
                while todo:
                    y, x = todo.popleft()
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            v, u = y + dy, x + dx
                            if 0 <= v < h and 0 <= u < w and masks[i, v, u] and not out[i, v, u]:
                                out[i, v, u] = count
                                todo.append((v, u))
    return out


def threshold_sweep_aupro(maps, masks, max_fpr):
    """Reference AUPRO: every distinct map value as a threshold, counted directly."""
    regions = flood_fill_regions(masks > 0)
    good = regions == 0
    xs, ys = [0.0], [0.0]
    for t in sorted(set(maps.flatten().tolist()), reverse=True):
        above = maps >= t
        xs.append((above & good).sum().item() / good.sum().item())
        ys.append(
            sum((above[regions == r]).double().mean().item() for r in range(1, regions.max() + 1))
            / regions.max().item()
        )
    area = 0.0
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        if x0 >= max_fpr:
            break
        if x1 > max_fpr:
            y1, x1 = y0 + (max_fpr - x0) / (x1 - x0) * (y1 - y0), max_fpr
        area += (x1 - x0) * (y0 + y1) / 2
    return area / max_fpr


def test_regions_match_a_flood_fill_and_corners_connect():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(3, 1, 23, 31, generator=g) > 0.55  # many small, oddly shaped regions
    masks[2] = False  # a good image
    got = label_regions(masks)
    want = flood_fill_regions(masks[:, 0])
    assert got.max() == want.max() > 20
    # the same partition of pixels, numbered 1..R over all images
    pairs = set(zip(got.flatten().tolist(), want.flatten().tolist()))
    assert len(pairs) == want.max() + 1
    diagonal = torch.zeros(1, 5, 5, dtype=torch.bool)
    diagonal[0, 1, 1] = diagonal[0, 2, 2] = diagonal[0, 3, 1] = True  # touching only at corners
    assert label_regions(diagonal).max() == 1


def test_a_long_winding_region_is_one_region():
    snake = torch.zeros(1, 41, 41, dtype=torch.bool)
    snake[0, ::4, 1:-1] = True  # rows joined at alternating ends: one path of ~400 pixels
    for y in range(0, 37, 4):
        snake[0, y + 1 : y + 4, -2 if y % 8 == 0 else 1] = True
    assert label_regions(snake).max() == 1 == flood_fill_regions(snake).max()


def test_each_region_counts_equally_unlike_pixel_auroc():
    masks = torch.zeros(2, 20, 20)
    masks[0, 2:12, 2:12] = 1  # a large defect, 100 pixels
    masks[1, 15:17, 15:17] = 1  # a small one, 4 pixels, in another image
    maps = masks.clone()
    maps[1] = 0  # the small defect is missed entirely
    # the curve: (0, 0) -> (0, 1/2) at any threshold above 0 -> (1, 1) at 0; cut at 0.3
    assert pixel_aupro(maps, masks) == pytest.approx((0.3 * 0.5 + 0.5 * 0.3 * 0.3 / 2) / 0.3)
    assert pixel_auroc(maps, masks) > 0.97  # the pooled pixels hardly notice the missed defect


def test_a_perfect_map_scores_one_and_a_random_one_about_half_the_limit():
    g = torch.Generator().manual_seed(1)
    masks = torch.zeros(6, 1, 64, 64)
    masks[:4, :, 10:30, 20:50] = 1
    masks[1, :, 50:60, 5:9] = 1
    assert pixel_aupro(masks[:, 0] * 5.0 + 1.0, masks) == pytest.approx(1.0)
    # random scores: PRO(f) = f on average, so the area up to 0.3, divided by 0.3, is 0.15
    assert pixel_aupro(torch.rand(6, 64, 64, generator=g), masks) == pytest.approx(0.15, abs=0.01)


@pytest.mark.parametrize("max_fpr", [0.3, 0.05, 1.0])
def test_matches_a_direct_threshold_sweep_with_ties(max_fpr):
    g = torch.Generator().manual_seed(2)
    masks = torch.zeros(4, 12, 12)
    masks[0, 2:6, 2:5] = 1
    masks[0, 8:11, 8:11] = 1
    masks[2, 0:3, 9:12] = 1
    # coarse values: many ties across good and defective pixels
    maps = torch.randint(0, 9, (4, 12, 12), generator=g).float() + 3 * masks
    want = threshold_sweep_aupro(maps, masks, max_fpr)
    assert pixel_aupro(maps, masks, max_fpr=max_fpr) == pytest.approx(want, abs=1e-9)


def test_undefined_and_bad_inputs_say_why():
    with pytest.raises(UndefinedAUROC, match="no defective pixels"):
        pixel_aupro(torch.rand(2, 8, 8), torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        maps = torch.rand(1, 8, 8)
        maps[0, 0, 0] = float("nan")
        pixel_aupro(maps, torch.ones(1, 8, 8).tril())
    with pytest.raises(ValueError, match="maps for masks"):
        pixel_aupro(torch.rand(2, 8, 8), torch.ones(1, 8, 8))
