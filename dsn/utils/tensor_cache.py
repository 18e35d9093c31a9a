"""One on-disk cache for computed tensors (decoded images, backbone features).

The cache is only a speed-up, so nothing about it may stop a run:

- an entry is loaded with ``weights_only=True``; a damaged one is deleted and rebuilt, never trusted;
- a new one is written to a temporary file and renamed, so a killed run leaves no half entry;
- a folder that cannot be written (read-only, full) gives one warning naming it and the
  settings, and the run goes on with the tensors in memory;
- every hit refreshes the entry's time, and :func:`evict` trims the folder to a size cap by
  removing the least recently used entries first (``feature_cache.max_gb``; ``dsn-cache``
  shows and clears it).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from dsn.utils.atomic import write_atomic

SETTINGS = "data.cache_dir / feature_cache.dir"


def cached_tensor(file: Path, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    if file.is_file():
        try:
            value = torch.load(file, map_location="cpu", weights_only=True)
            _touch(file)
            return value
        except Exception:
            file.unlink(missing_ok=True)
    value = compute()
    try:
        write_atomic(file, lambda tmp: torch.save(value, tmp))
    except (OSError, RuntimeError) as err:  # torch reports a failed write as RuntimeError
        warnings.warn(
            f"cache folder {file.parent} cannot be written ({str(err).splitlines()[0][:120]}): going on "
            f"without the disk cache; set {SETTINGS} to a writable folder, or null",
            stacklevel=2,
        )
    return value


def _touch(file: Path) -> None:
    try:
        os.utime(file)
    except OSError:  # a read-only cache still serves its entries
        pass


def entries(folders: Iterable[str | Path | None]) -> list[Path]:
    """The cache entries (``*.pt``) in ``folders`` (each once), oldest use first."""
    seen = {Path(f).resolve() for f in folders if f is not None and Path(f).is_dir()}
    files = {p for d in seen for p in d.glob("*.pt") if p.is_file()}
    return sorted(files, key=lambda p: p.stat().st_mtime)


def evict(folders: Iterable[str | Path | None], max_bytes: float) -> list[Path]:
    """Remove least recently used entries until ``folders`` hold at most ``max_bytes``; returns them."""
    files = entries(folders)
    total = sum(p.stat().st_size for p in files)
    removed = []
    for p in files:
        if total <= max_bytes:
            break
        size = p.stat().st_size
        try:
            p.unlink()
        except OSError:
            continue
        total -= size
        removed.append(p)
    return removed
