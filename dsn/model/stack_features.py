"""Features of fixed views of a whole image stack, computed once (the frozen backbone's work).

Used for the training feature bank and for the test views: the flow then trains and scores on
stored vectors, and the backbone never sees the same view twice in a run.
"""

from __future__ import annotations

import time

import torch

from dsn.model.embedder import ViewEmbedder


@torch.no_grad()
def embed_stack(
    model: ViewEmbedder,
    images: torch.Tensor,
    angles: torch.Tensor,
    *,
    device: torch.device | str,
    batch_images: int,
    jitter: torch.Tensor | None,
    log_every_s: float = 30.0,
) -> torch.Tensor:
    """images uint8 [N, 3, S, S], angles [N, V] (and colour factors [N, V, 3] or None) -> float32
    features [N, V, F] on the CPU."""
    if images.shape[0] != angles.shape[0]:
        raise ValueError(f"{images.shape[0]} images but angles for {angles.shape[0]}")
    model.features.to(device)
    out, last = [], time.monotonic()
    for start in range(0, images.shape[0], batch_images):
        imgs = images[start : start + batch_images].to(device, non_blocking=True)
        jit = None if jitter is None else jitter[start : start + batch_images]  # moved where the views are
        out.append(model.embed(imgs, angles[start : start + batch_images].to(device), jit).float().cpu())
        if time.monotonic() - last > log_every_s:
            print(f"  features: {start + len(imgs)}/{images.shape[0]} images", flush=True)
            last = time.monotonic()
    return torch.cat(out)
