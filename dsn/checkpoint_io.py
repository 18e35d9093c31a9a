"""Checkpoint files written straight to disk, atomically.

Lightning's default writer serialises the whole checkpoint into memory first and then copies
that buffer again on writing: for the paper's 153 M-parameter flow with its Adam state (1.8 GB)
that is 3.6 GB of transient copies, most of a training run's peak memory. This writer streams
``torch.save`` into a temporary file beside the target and renames it into place, so a killed
run leaves either the old checkpoint or the new one, never half a file, and no copy in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class StreamingCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)  # remote file systems
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            torch.save(checkpoint, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
