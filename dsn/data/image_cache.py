"""Decode and resize each image once: an in-memory uint8 stack, optionally stored on disk.

Decoding a 900x900 PNG and resizing it costs far more than the model's frozen backbone on
cached data would; doing it every epoch was most of the reference's data time. The disk cache
is keyed by the bytes of every file and the preprocessing settings, so an edited image or a
different size can never be served from a stale entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from dsn.data.images import DEFAULT_MAX_PIXELS, load_image, load_mask
from dsn.utils.tensor_cache import cached_tensor

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
    return cached_tensor(Path(cache_dir) / f"{kind}-{content_key(paths, size, kind)}.pt", decode)
