"""One on-disk cache for computed tensors (decoded images, backbone features).

The cache is only a speed-up, so nothing about it may stop a run:

- an entry is loaded with ``weights_only=True``; a damaged one is deleted and rebuilt, never trusted;
- a new one is written to a temporary file and renamed, so a killed run leaves no half entry;
- a long one (a training bank: 51 min for Magnetic Tile's 64 views on a 2-core CPU) keeps the
  rows computed so far beside it (:class:`PartialRows`), so a killed run loses at most a few
  minutes of it; the finished entry replaces them;
- a folder that cannot be written (read-only, full) gives one warning naming it and the
  settings, and the run goes on with the tensors in memory;
- every hit refreshes the entry's time, and :func:`evict` trims the folder to a size cap by
  removing the least recently used entries first (``feature_cache.max_gb``; ``dsn-cache``
  shows and clears it).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch

from dsn.utils.atomic import atomic_path

SETTINGS = "data.cache_dir / feature_cache.dir"


def load_entry(file: Path) -> torch.Tensor | None:
    """The entry in ``file`` (its use time refreshed), or None: compute it and :func:`store_entry`.
    (Two calls, not a get-or-compute callback: the computing stays in the caller's layer.)"""
    value = _load(file)
    if value is not None:
        _touch(file)
    return value


def store_entry(file: Path, value: torch.Tensor) -> torch.Tensor:
    """Keep ``value`` as ``file``'s entry (replacing the rows a long computation kept so far);
    returns ``value``. A folder that cannot be written warns once and the run goes on."""
    if _store(file, value):
        partial_file(file).unlink(missing_ok=True)
    return value


def _load(file: Path) -> torch.Tensor | None:
    """The tensor in ``file``; None when there is none, or when it is unreadable (then deleted)."""
    if not file.is_file():
        return None
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception:
        file.unlink(missing_ok=True)
        return None


def _store(file: Path, value: torch.Tensor) -> bool:
    """Write ``value`` to ``file`` atomically; a folder that cannot be written warns and gives False."""
    try:
        with atomic_path(file) as tmp:
            torch.save(value, tmp)
        return True
    except (OSError, RuntimeError) as err:  # torch reports a failed write as RuntimeError
        warnings.warn(
            f"cache folder {file.parent} cannot be written ({str(err).splitlines()[0][:120]}): going on "
            f"without the disk cache; set {SETTINGS} to a writable folder, or null",
            stacklevel=3,
        )
        return False


def partial_file(file: Path) -> Path:
    """Where the rows of ``file``'s entry computed so far are kept until it is finished."""
    return file.with_name(f"{file.stem}.partial.pt")


class PartialRows:
    """The first rows of a long cache entry, kept on disk while it is computed.

    :meth:`load` gives what an interrupted run stored (None: nothing, or unreadable, which is
    deleted); :meth:`save` stores the rows so far when :meth:`due`, that is at most every
    ``every_s`` seconds (each save rewrites all rows so far, so not after every batch). A folder
    that cannot be written gives one warning and no more saves: the run goes on.
    """

    def __init__(self, file: Path, every_s: float):
        self.file = partial_file(file)
        self.every_s = every_s
        self.last = time.monotonic()
        self.writable = True

    def load(self) -> torch.Tensor | None:
        return _load(self.file)

    def due(self) -> bool:
        return self.writable and time.monotonic() - self.last >= self.every_s

    def save(self, rows: torch.Tensor) -> None:
        self.writable = _store(self.file, rows)
        self.last = time.monotonic()


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
