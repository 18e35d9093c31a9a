"""Files written atomically: a temporary file beside the target, renamed into place.

A kill leaves the old file or the new one, never half a file, and a reader (or another sweep
worker writing the same summary) never sees a mix of two versions. Used for metrics, sweep
summaries, predictions, cache entries and checkpoints. Imports no torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before the rename: hidden, and marked with this process's id."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` then rename ``tmp`` to ``path``; the temporary file never outlives a failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is gone or is not one
            pass
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
