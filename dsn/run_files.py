"""What a run leaves in its directory: files written atomically (metrics, sweep summaries), and
peak memory. Imports no torch at module level, so the sweeper plugin can use it cheaply."""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path


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


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` via a temporary file and an atomic rename: a kill leaves no half file, and
    readers (or another sweep worker writing the same summary) never see a mix of two versions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as JSON, atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
