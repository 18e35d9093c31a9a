"""AUPRO: MVTec AD's localisation metric (Bergmann et al., IJCV 2021), beside pixel AUROC.

Pixel AUROC pools all defective pixels, so one large defect outweighs many small ones, and with
so many good pixels its false-positive axis runs to rates no inspector would accept. The
per-region overlap (PRO) counts every connected defect region equally: at a threshold, PRO is the
mean over regions of the fraction of the region's pixels above it. AUPRO is the area under PRO
against the false-positive rate of the good pixels, from 0 to ``max_fpr`` (0.3, as MVTec AD's own
evaluation), divided by ``max_fpr`` so that a perfect map scores 1. It is exact: every distinct
map value is a threshold (no grid), and the curve is cut at ``max_fpr`` by linear interpolation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dsn.results.metrics import UndefinedAUROC


def label_regions(masks: torch.Tensor) -> torch.Tensor:
    """Connected regions of binary masks [N, (1,) H, W], 8-connected (pixels touching at a corner
    belong together). Returns int32 [N, H, W]: 0 for background, regions numbered 1..R over all
    images (a region never spans two images)."""
    fg = _binary_masks(masks)
    labels = torch.zeros(fg.shape, dtype=torch.int32)
    count = 0
    for i in torch.nonzero(fg.flatten(1).any(1)).flatten().tolist():
        ys, xs = torch.nonzero(fg[i], as_tuple=True)  # work inside the defects' bounding box
        box = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
        inside = fg[i][box]
        ids, inverse = torch.unique(_component_roots(inside)[inside], return_inverse=True)
        labels[i][box][inside] = (inverse + count + 1).int()
        count += len(ids)
    return labels


def _component_roots(fg: torch.Tensor) -> torch.Tensor:
    """For one [H, W] mask: each foreground pixel's component, named by the largest flat index
    (plus one) of a pixel in it. Labels start as the pixels' own indices and take the largest
    label in each 3 x 3 neighbourhood (foreground only) until nothing changes; a pixel's label
    names a pixel of the same component, so it also takes that pixel's label (pointer jumping),
    which makes long regions converge in few rounds."""
    h, w = fg.shape
    own = torch.arange(1, h * w + 1, dtype=torch.float64).view(h, w)  # exact integers in float64
    lab = torch.where(fg, own, torch.zeros_like(own))
    while True:
        grown = F.max_pool2d(lab[None, None], 3, stride=1, padding=1)[0, 0] * fg
        flat = grown.flatten()
        jumped = torch.where(fg, flat[(grown.long() - 1).clamp(min=0)].view(h, w), grown)
        if torch.equal(jumped, lab):
            return lab.long()
        lab = jumped


def pixel_aupro(maps: torch.Tensor, masks: torch.Tensor, max_fpr: float = 0.3) -> float:
    """Normalised area under the PRO curve for FPR in [0, ``max_fpr``]. maps [N, H, W] (higher =
    more anomalous), masks [N, (1,) H, W] binary ground truth of the same images."""
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    scores = maps.detach().cpu().flatten()
    if scores.numel() != masks.numel():  # checked before the costlier labelling
        raise ValueError(f"{tuple(maps.shape)} maps for masks of {tuple(masks.shape)}")
    if not torch.isfinite(scores).all():
        raise ValueError("anomaly maps contain NaN or inf: the model diverged; check the run's loss")
    regions = label_regions(masks).flatten()
    n_regions, good = int(regions.max()), regions == 0
    n_good = int(good.sum())
    if n_regions == 0 or n_good == 0:
        missing = "defective" if n_regions == 0 else "good"
        raise UndefinedAUROC(f"AUPRO is undefined: the ground-truth masks have no {missing} pixels")

    # only pixels above the threshold where the good pixels' FPR first passes max_fpr matter
    k = min(n_good, int(max_fpr * n_good) + 1)  # the k-th largest good score
    cut = torch.kthvalue(scores[good], n_good - k + 1).values
    keep = scores >= cut
    s, r = scores[keep], regions[keep]
    order = torch.argsort(s, descending=True, stable=True)
    s, r = s[order], r[order]
    sizes = torch.bincount(regions, minlength=n_regions + 1).double()
    r = r.long()  # an index into sizes
    fpr = torch.cumsum((r == 0).double(), 0) / n_good
    pro = torch.cumsum(torch.where(r > 0, 1.0 / (sizes[r] * n_regions), 0.0), 0)
    last_of_tie = torch.ones_like(s, dtype=torch.bool)
    last_of_tie[:-1] = s[1:] != s[:-1]  # one curve point per distinct threshold
    fpr = torch.cat([fpr.new_zeros(1), fpr[last_of_tie]])
    pro = torch.cat([pro.new_zeros(1), pro[last_of_tie]])

    j = int(torch.searchsorted(fpr, torch.tensor(max_fpr, dtype=fpr.dtype)))  # first fpr >= max_fpr
    j = min(j, len(fpr) - 1)
    x, y = fpr[: j + 1].clone(), pro[: j + 1].clone()
    if x[j] > max_fpr:  # cut the last segment at max_fpr
        t = (max_fpr - x[j - 1]) / (x[j] - x[j - 1])
        x[j], y[j] = max_fpr, y[j - 1] + t * (y[j] - y[j - 1])
    return float(torch.trapezoid(y, x) / max_fpr)


def _binary_masks(masks: torch.Tensor) -> torch.Tensor:
    m = masks.detach().cpu()
    if m.dim() == 4:
        m = m[:, 0]
    if m.dim() != 3:
        raise ValueError(f"masks must be [N, H, W] or [N, 1, H, W], got {tuple(masks.shape)}")
    return m > 0.5
