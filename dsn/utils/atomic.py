"""Files written atomically: a temporary file beside the target, renamed into place.

A kill leaves the old file or the new one, never half a file, and a reader (or another sweep
worker writing the same summary) never sees a mix of two versions. Used for metrics, sweep
summaries, saved configs, cache entries and checkpoints. Imports no torch.

A write that fails for want of room (a full disk, a quota, the process's file-size limit) raises
:class:`DiskWriteError`, whose message names the file, the size it needed and what to do: torch's
own error for a full disk is ``[enforce fail at inline_container.cc:672] . unexpected pos``.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MB = 1024 * 1024
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskWriteError(OSError):
    """A file could not be written: no space left, or the file-size limit; the message says what to do."""

    def __str__(self) -> str:
        return self.strerror


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB" if n >= MB / 10 else f"{n / 1024:.1f} kB"


def write_failure(path: Path, written: int, err: BaseException, size_hint: int | None = None) -> DiskWriteError | None:
    """The :class:`DiskWriteError` behind ``err`` (raised while writing ``path``, ``written`` bytes
    in), or None when the failure was not about room."""
    if not isinstance(err, (OSError, RuntimeError)):
        return None
    code = getattr(err, "errno", None)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if code == errno.EFBIG or (limit != resource.RLIM_INFINITY and written >= limit - 64 * 1024):
        return DiskWriteError(
            errno.EFBIG,
            f"file size limit: writing {path} stopped at {_mb(written)}; this process may write files of at "
            f"most {_mb(limit)} (ulimit -f): raise the limit (it needs {_mb(size_hint or written)} or more)",
        )
    folder = next((p for p in [path.parent, *path.parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(folder).free
    if code in (errno.ENOSPC, errno.EDQUOT) or free < MB:
        need = f"about {_mb(size_hint)}" if size_hint else f"more than {_mb(written)}"
        return DiskWriteError(
            errno.ENOSPC,
            f"no space left on device: writing {path} needs {need}, {_mb(free)} free in {folder}: "
            f"free space there, or point the run at another disk (hydra.run.dir=..., paths.log_dir=...)",
        )
    return None


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before the rename: hidden, and marked with this process's id."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def atomic_path(path: str | Path, size_hint: int | None = None) -> Iterator[Path]:
    """``with atomic_path(path) as tmp:`` write ``tmp``; at the block's end it is renamed to
    ``path``. The temporary file never outlives a failure. ``size_hint``: the bytes the file will
    take, for the message when the disk is full. (A block, not a writer callback: the caller's
    code stays in the caller's frame, so this leaf never calls back up into a higher layer.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as err:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)  # its room counts as free in the message
        failure = write_failure(path, written, err, size_hint)
        if failure is None:
            raise
        raise failure from err
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder itself is gone or is not one
            pass


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
