"""Reading image and mask files into the model's uint8 tensors (pixels from :mod:`dsn.utils.image_files`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dsn.utils.image_files import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    MIN_SIDE,
    READ_ERRORS,
    ImageError,
    check_pixels,
    is_image_file,
    read_rgb,
    to_rgb8,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MIN_SIDE",
    "ImageError",
    "is_image_file",
    "load_image",
    "load_mask",
    "to_rgb8",
]


def load_image(path: str | Path, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """The image at ``path`` as a uint8 tensor [3, size, size]."""
    return torch.from_numpy(read_rgb(path, size, max_pixels)).permute(2, 0, 1).contiguous()


def load_mask(path: str | Path | None, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """A ground-truth mask as uint8 {0, 1} [1, size, size]; all zeros when ``path`` is None."""
    if path is None:
        return torch.zeros(1, size, size, dtype=torch.uint8)
    try:
        with Image.open(path) as img:
            check_pixels(img, Path(path), max_pixels)
            m = to_rgb8(img).convert("L").resize((size, size), Image.NEAREST)
    except ImageError:
        raise
    except READ_ERRORS as err:
        raise ImageError(f"cannot read mask {path} ({err}): remove or replace it") from err
    return torch.from_numpy((np.array(m) > 127).astype(np.uint8)).unsqueeze(0)
