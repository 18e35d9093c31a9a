"""Image files -> 8-bit RGB arrays with PIL and numpy only (no torch), shared by the training
data code and the torch-free ONNX inference path, so both see exactly the same pixels.

Any PIL-readable mode is accepted (L, P, RGB, RGBA, CMYK, 16-bit and 32-bit greyscale) and
turned into 8-bit RGB; the image is then resized to a square ``size`` x ``size`` (non-square
images are stretched, as the reference does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
MIN_SIDE = 16  # below this there is nothing left for a 448-px model to see
# Larger images are refused from their header, before decoding (a 1 MB PNG can claim 20000 x 20000
# px and decode to 1.2 GB). It replaces PIL's own decompression-bomb check, whose error names no
# setting and whose limit cannot be raised per call. Settings: data.max_pixels, --max-pixels.
DEFAULT_MAX_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = None
READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and what to do."""


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def to_rgb8(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode: deep greyscale is scaled to 8 bits, alpha is dropped."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if img.mode == "F" and arr.max(initial=0) <= 1.0 else 65535.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    return img.convert("RGB")


def check_pixels(img: Image.Image, path: Path, max_pixels: int) -> None:
    """Refuse an image whose header claims more than ``max_pixels`` pixels (before decoding it)."""
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(
            f"image {path} is {w}x{h} px ({w * h / 1e6:.1f} MP), over the limit of "
            f"{max_pixels / 1e6:.1f} MP (setting data.max_pixels, or --max-pixels): downscale "
            f"it, or raise the limit if the memory allows"
        )


def open_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The image at ``path`` decoded at its own size as 8-bit RGB (refused, with the file named,
    when it is too large, too small, or not a readable image)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            check_pixels(img, path, max_pixels)
            img.load()
            if min(img.size) < MIN_SIDE:
                raise ImageError(
                    f"image {path} is {img.size[0]}x{img.size[1]} px, smaller than the "
                    f"{MIN_SIDE} px minimum: remove it or replace it with a real image"
                )
            return to_rgb8(img)
    except ImageError:
        raise
    except READ_ERRORS as err:
        raise ImageError(
            f"cannot read image {path} ({err}): the file is not an image, or is "
            f"truncated or corrupt; remove or replace it"
        ) from err


def read_rgb(path: str | Path, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image at ``path`` as uint8 [size, size, 3]."""
    return np.array(open_rgb(path, max_pixels).resize((size, size), Image.BILINEAR), dtype=np.uint8)
