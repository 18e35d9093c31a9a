"""One on-disk cache for computed tensors (decoded images, backbone features).

An entry is loaded with ``weights_only=True``; a damaged one is deleted and rebuilt, never
trusted; a new one is written to a temporary file and renamed, so a killed run leaves no half
entry behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch


def cached_tensor(file: Path, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    if file.is_file():
        try:
            return torch.load(file, map_location="cpu", weights_only=True)
        except Exception:
            file.unlink(missing_ok=True)
    value = compute()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    torch.save(value, tmp)
    os.replace(tmp, file)
    return value
