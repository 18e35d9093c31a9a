"""User errors end a command with one line, not a traceback.

A user error is one whose message already names the file or setting and what to do: a bad
setting, a busy or mismatched run directory, an unusable image, a missing folder, weights that
cannot be fetched. In a single run it ends the command with ``error: <message>`` (exit status 1);
inside a multirun it is raised as usual, so that only that job (trial) fails and the sweep goes on.
Infrastructure faults are told the same way: no room to write a file (a full disk, a quota, the
file-size limit: :class:`~dsn.utils.atomic.DiskWriteError` or any ``OSError`` with that errno), a
weights file that is not the backbone's. Anything else is a bug and keeps its traceback.
``DSN_TRACEBACK=1`` keeps the traceback of every error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

from dsn.config.config_checks import ConfigError
from dsn.lit.interruption import EXIT_STATUS, Interrupted
from dsn.model.backbones import WeightsFileError, WeightsUnavailable
from dsn.model.features import InputTooSmall
from dsn.run.run_dir import RunDirError
from dsn.utils.atomic import NO_ROOM, DiskWriteError
from dsn.utils.image_files import ImageError

USER_ERRORS = (
    ConfigError,
    RunDirError,
    ImageError,
    FileNotFoundError,
    WeightsUnavailable,
    WeightsFileError,
    InputTooSmall,
)
T = TypeVar("T")


def one_line_errors(run: Callable[..., T], *args) -> T:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return run(*args)
    except Exception as err:
        room = isinstance(err, DiskWriteError) or (isinstance(err, OSError) and err.errno in NO_ROOM)
        if not (room or isinstance(err, (*USER_ERRORS, Interrupted))) or os.environ.get("DSN_TRACEBACK"):
            raise
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        if isinstance(err, Interrupted):  # a scheduler reads the status: not a success
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_STATUS) from None
        message = str(err) if isinstance(err, DiskWriteError) or not room else f"{err.strerror}: {err.filename}"
        raise SystemExit(f"error: {message}") from None
