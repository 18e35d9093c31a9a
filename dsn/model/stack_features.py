"""Features of fixed views of a whole image stack, computed once (the frozen backbone's work).

Used for the training feature bank and for the test views: the flow then trains and scores on
stored vectors, and the backbone never sees the same view twice in a run.
"""

from __future__ import annotations

from typing import Protocol

import torch

from dsn.model.detector import Detector
from dsn.utils.progress_bar import ProgressBar


class Progress(Protocol):
    """Where a long embedding keeps the images it has done (``dsn.utils.tensor_cache.PartialRows``
    on disk), so that a killed run takes them up again instead of computing them anew."""

    def load(self) -> torch.Tensor | None: ...

    def due(self) -> bool: ...

    def save(self, rows: torch.Tensor) -> None: ...


@torch.no_grad()
def embed_stack(
    model: Detector,
    images: torch.Tensor,
    angles: torch.Tensor,
    *,
    device: torch.device | str,
    batch_images: int,
    jitter: torch.Tensor | None,
    progress: Progress | None,
    desc: str,
    log_every_s: float = 30.0,
) -> torch.Tensor:
    """images uint8 [N, 3, S, S], angles [N, V] (and colour factors [N, V, 3] or None) -> float32
    features [N, V, F] on the CPU. With ``progress``, the features of the first images stored by
    an interrupted call are taken as they are, and the features so far are stored when it is due."""
    n, v = angles.shape
    if images.shape[0] != n:
        raise ValueError(f"{images.shape[0]} images but angles for {n}")
    model.features.to(device)
    done = None if progress is None else progress.load()
    if done is not None and not (done.ndim == 3 and done.shape[0] <= n and done.shape[1] == v):
        done = None  # not this stack's rows: start over
    out = [] if done is None else [done]
    if done is not None:
        print(f"  features: {done.shape[0]}/{n} images kept from an interrupted run", flush=True)
    first = 0 if done is None else done.shape[0]
    bar = ProgressBar(n, f"{desc} ({v} views each)", initial=first, every_s=log_every_s)
    for start in range(first, n, batch_images):
        imgs = images[start : start + batch_images].to(device, non_blocking=True)
        jit = None if jitter is None else jitter[start : start + batch_images]  # moved where the views are
        out.append(model.embed(imgs, angles[start : start + batch_images].to(device), jit).float().cpu())
        bar.update(len(imgs))
        if progress is not None and start + len(imgs) < n and progress.due():
            out = [torch.cat(out)]
            progress.save(out[0])
    bar.close()
    return torch.cat(out)
