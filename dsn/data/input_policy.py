"""How an image of any shape becomes the detector's square inputs (``data.input_policy``), and
how the square inputs' anomaly maps go back onto the image.

- ``resize`` (the default, the reference's): the image squashed to ``size`` x ``size``;
- ``pad``: resized keeping its aspect ratio until its long side is ``size``, centred on a black
  ``size`` x ``size`` canvas (nothing is stretched; the short side loses resolution);
- ``tile``: resized keeping its aspect ratio until its short side is ``size`` (near native
  resolution for images of a few hundred pixels), then cut into ``size`` x ``size`` tiles along
  its long side, neighbours overlapping by ``overlap`` of a tile; each tile is scored by the same
  detector and the image scores as its worst tile.

Every input is a ``box`` of the image: (top, left, bottom, right) as fractions of the image's
height and width, outside [0, 1] where a canvas pads it. One function (:func:`stitch`) puts the
inputs' maps back on any frame of the image (its own size, or the square frame the masks are
scored in), averaging where tiles overlap, so every policy's map is scored on the same pixels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

POLICIES = ("resize", "pad", "tile")
Box = tuple[float, float, float, float]
WHOLE: Box = (0.0, 0.0, 1.0, 1.0)


def check_policy(policy: str, overlap: float) -> None:
    if policy not in POLICIES:
        raise ValueError(f"data.input_policy must be one of {list(POLICIES)}, got {policy!r}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"data.tile_overlap must be in [0, 1), got {overlap}")


def boxes(policy: str, width: int, height: int, size: int, overlap: float) -> list[Box]:
    """The boxes of a ``width`` x ``height`` image that become its ``size`` x ``size`` inputs."""
    check_policy(policy, overlap)
    if policy == "resize" or width == height:
        return [WHOLE]
    long_side = max(width, height)
    if policy == "pad":
        extra_h, extra_w = (long_side / height - 1) / 2, (long_side / width - 1) / 2
        return [(-extra_h, -extra_w, 1 + extra_h, 1 + extra_w)]
    scaled = long_side * size / min(width, height)  # the long side once the short side is `size`
    if scaled <= size * 1.05:  # within 5% of square: one input, barely stretched
        return [WHOLE]
    n = math.ceil((scaled - size) / (size * (1 - overlap))) + 1
    starts = np.linspace(0.0, scaled - size, n) / scaled
    span = size / scaled
    if width >= height:
        return [(0.0, float(s), 1.0, float(s + span)) for s in starts]
    return [(float(s), 0.0, float(s + span), 1.0) for s in starts]


def render(img: Image.Image, box: Box, size: int) -> torch.Tensor:
    """The part ``box`` of an RGB image (black outside it) as uint8 [3, size, size]."""
    w, h = img.size
    top, left, bottom, right = box
    if box == WHOLE:
        part = img
    else:
        part = img.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    arr = np.array(part.resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def split(img: Image.Image, policy: str, size: int, overlap: float) -> tuple[torch.Tensor, list[Box]]:
    """An RGB image's inputs under ``policy``: uint8 [K, 3, size, size] and their boxes."""
    where = boxes(policy, img.size[0], img.size[1], size, overlap)
    return torch.stack([render(img, b, size) for b in where]), where


def stitch(maps: torch.Tensor, where: list[Box], height: int, width: int) -> torch.Tensor:
    """Maps of an image's inputs [K, s, s] at their boxes -> one map [height, width] of the image
    (each input's map resized to its box, overlaps averaged; a pad canvas's border is cut off).
    One whole input already at ``height`` x ``width`` is its own map, returned as it is."""
    if len(where) == 1 and where[0] == WHOLE:
        if maps.shape[-2:] == (height, width):
            return maps[0]
        return F.interpolate(maps[None, :1].float(), size=(height, width), mode="bilinear")[0, 0]
    total = torch.zeros(height, width)
    count = torch.zeros(height, width)
    for m, (top, left, bottom, right) in zip(maps.float().cpu(), where):
        y0, x0, y1, x1 = round(top * height), round(left * width), round(bottom * height), round(right * width)
        placed = F.interpolate(m[None, None], size=(y1 - y0, x1 - x0), mode="bilinear")[0, 0]
        cy0, cx0, cy1, cx1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
        total[cy0:cy1, cx0:cx1] += placed[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        count[cy0:cy1, cx0:cx1] += 1
    return total / count.clamp(min=1)


def max_per_image(scores: torch.Tensor, image_of: torch.Tensor) -> torch.Tensor:
    """Scores of inputs [M] -> scores of their images [N] (the worst input of each; images are
    numbered 0..N-1 by ``image_of`` [M])."""
    n = int(image_of.max()) + 1 if image_of.numel() else 0
    low = float("-inf") if scores.is_floating_point() else torch.iinfo(scores.dtype).min
    out = torch.full((n,), low, dtype=scores.dtype)
    return out.scatter_reduce(0, image_of.long(), scores, reduce="amax")
