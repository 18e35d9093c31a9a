"""Test- and training-time views of an image: rotation, colour jitter, ImageNet normalisation.

Everything works on batches of tensors on any device, with one angle per image, so that the
plain training path, the feature bank, test-time scoring and gradient maps all build their views
with the same code (and so give the same features for the same view).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [0, 1]; float input is returned as is (it may carry gradients)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


def rotate(images: torch.Tensor, angles: torch.Tensor, mode: str) -> torch.Tensor:
    """Rotate each image of ``images`` [N, C, H, W] counter-clockwise by ``angles`` [N] degrees.

    Pixels that come from outside the image are 0 (black), as torchvision's ``rotate`` fills.
    ``mode``: ``"nearest"`` (torchvision's default, the reference's) or ``"bilinear"``.
    """
    n, _, h, w = images.shape
    rad = angles.to(device=images.device, dtype=images.dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(cos)
    aspect = w / h
    # output normalised coords -> input normalised coords; y points down, aspect keeps pixels square
    theta = torch.stack([torch.stack([cos, -sin / aspect, zero], -1), torch.stack([sin * aspect, cos, zero], -1)], 1)
    grid = F.affine_grid(theta, [n, images.shape[1], h, w], align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


JITTER_KNOBS = ("brightness", "contrast", "saturation")  # the model.* settings, in factor order


def jitter_factors(
    n: int, brightness: float, contrast: float, saturation: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random brightness, contrast and saturation factors in [1-x, 1+x] for ``n`` views: [n, 3]
    (a knob at 0 gives factor 1, off). Drawn apart from the images so that a cached bank of
    jittered views is reproducible whatever the batch and chunk sizes that render it."""
    strengths = torch.tensor([brightness, contrast, saturation], dtype=torch.float32)
    return (1.0 + (torch.rand(n, 3, generator=generator) * 2.0 - 1.0) * strengths).clamp_min(0.0)


def jitter(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Brightness, contrast and saturation of [0, 1] images [N, 3, H, W] scaled by ``factors``
    [N, 3] (:func:`jitter_factors`), each as torchvision's ColorJitter does it (which applies them
    in a random order; here always this one); the result is clamped back to [0, 1]. A knob whose
    factors are all 1 is skipped (exactly the identity)."""
    n = images.shape[0]
    f = factors.to(images).view(n, 3, 1, 1, 1)
    if (f[:, 0] != 1).any():
        images = (images * f[:, 0]).clamp(0, 1)
    if (f[:, 1] != 1).any():
        mean = _gray(images).mean(dim=(1, 2, 3), keepdim=True)
        images = ((images - mean) * f[:, 1] + mean).clamp(0, 1)
    if (f[:, 2] != 1).any():
        gray = _gray(images)
        images = ((images - gray) * f[:, 2] + gray).clamp(0, 1)
    return images


def _gray(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of [0, 1] images."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def fixed_angles(n_views: int) -> torch.Tensor:
    """The deterministic test-time rotations k * 360 / n_views, k = 0 .. n_views-1 (degrees)."""
    return torch.arange(n_views, dtype=torch.float32) * (360.0 / n_views)


def random_angles(shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotations drawn uniformly in [-180, 180) degrees (the reference's training augmentation)."""
    return torch.rand(shape, generator=generator) * 360.0 - 180.0
