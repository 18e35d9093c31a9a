"""Peak memory of this process: which stage of a run sets it, and what scoring one image costs."""

from __future__ import annotations

import resource
import sys


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process (and peak CUDA allocation, when a GPU was used)."""
    import torch

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mb": round(rss_kb / (1024 if sys.platform != "darwin" else 1024**2), 1)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB."""
    return peak_memory_mb()["peak_rss_mb"]
