"""Where a result came from: dsn's version and commit, and a short digest of a module's weights.

A run records them beside its metrics so that two results can be told apart by what made them:
the same ImageNet weights give the same digest whether they were downloaded or read from a file,
and a run made from a modified checkout says so (``commit`` ends in ``+dirty``).
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import torch
from torch import nn


def dsn_version() -> str:
    try:
        return metadata.version("dsn")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The checkout's commit (``+dirty`` when tracked files differ from it); None outside git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip()[:12] + ("+dirty" if dirty.stdout.strip() else "")


def state_digest(module: nn.Module, length: int = 12) -> str:
    """sha256 of a module's state (names and raw tensor bytes, in order), ``length`` hex digits."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:length]
