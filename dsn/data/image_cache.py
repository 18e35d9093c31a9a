"""Decode and resize each image once: an in-memory uint8 stack, optionally stored on disk.

Decoding a 900x900 PNG and resizing it costs far more than the model's frozen backbone on
cached data would; doing it every epoch was most of the reference's data time. The disk cache
is keyed by the bytes of every file and the preprocessing settings, so an edited image or a
different size can never be served from a stale entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from dsn.data.images import DEFAULT_MAX_PIXELS, load_image, load_mask
from dsn.data.input_policy import WHOLE, Box, boxes, split
from dsn.utils.image_files import READ_ERRORS, open_rgb
from dsn.utils.tensor_cache import load_entry, store_entry

CACHE_VERSION = 1  # bump when load_image/load_mask change what they produce


def content_key(paths: Sequence[Path | None], size: int, kind: str) -> str:
    """sha256 over the files' bytes, their order, the size and the kind of stack."""
    h = hashlib.sha256(f"v{CACHE_VERSION}:{kind}:{size}".encode())
    for p in paths:
        h.update(b"\0" if p is None else Path(p).read_bytes())
        h.update(b"|")
    return h.hexdigest()[:32]


def load_stack(
    paths: Sequence[Path | None],
    size: int,
    kind: str = "image",
    cache_dir: str | Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """uint8 stack [N, C, size, size] of ``paths`` (images, or masks when ``kind="mask"``)."""
    load = load_image if kind == "image" else load_mask

    def decode() -> torch.Tensor:
        return torch.stack([load(p, size, max_pixels) for p in paths])

    if cache_dir is None:
        return decode()
    return _cached(Path(cache_dir) / f"{kind}-{content_key(paths, size, kind)}.pt", decode)


def load_inputs(
    paths: Sequence[Path],
    size: int,
    policy: str,
    overlap: float,
    cache_dir: str | Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[torch.Tensor, torch.Tensor, list[Box]]:
    """The detector's inputs of ``paths`` under ``data.input_policy`` (:mod:`dsn.data.input_policy`):
    uint8 [M, 3, size, size], the image each input belongs to [M], and each input's box. Boxes
    come from the files' headers; the rendered inputs are cached like the resized images."""
    if policy == "resize":
        stack = load_stack(paths, size, "image", cache_dir, max_pixels)
        return stack, torch.arange(len(paths)), [WHOLE] * len(paths)
    where: list[list[Box]] = []
    for p in paths:
        try:
            with Image.open(p) as img:
                where.append(boxes(policy, img.size[0], img.size[1], size, overlap))
        except READ_ERRORS:
            open_rgb(p, max_pixels)  # raises the one-line error that names the file
            raise
    image_of = torch.tensor([i for i, bs in enumerate(where) for _ in bs], dtype=torch.long)
    flat = [b for bs in where for b in bs]

    def decode() -> torch.Tensor:
        return torch.cat([split(open_rgb(p, max_pixels), policy, size, overlap)[0] for p in paths])

    if cache_dir is None:
        return decode(), image_of, flat
    kind = f"image-{policy}-{overlap}"
    return _cached(Path(cache_dir) / f"{kind}-{content_key(paths, size, kind)}.pt", decode), image_of, flat


def _cached(file: Path, decode: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The stack in cache entry ``file``, or ``decode()`` stored there."""
    value = load_entry(file)
    return value if value is not None else store_entry(file, decode())
