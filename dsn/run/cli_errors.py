"""User errors end a command with one line, not a traceback.

A user error is one whose message already names the file or setting and what to do: a bad
setting, a busy or mismatched run directory, an unusable image, a missing folder, weights that
cannot be fetched. In a single run it ends the command with ``error: <message>`` (exit status 1).
In a plain multirun (Hydra's basic sweeper: seeds, a comparison) a failed job says so in one line
when it fails (a bug: with its traceback) and the others go on; the summary at the end
(:mod:`dsn.run.multirun_summary`) counts it and sets the exit status. Under a search sweeper or a
launcher of its own the error is raised as usual, so that only that trial fails.
Infrastructure faults are told the same way: no room to write a file (a full disk, a quota, the
file-size limit: :class:`~dsn.utils.atomic.DiskWriteError` or any ``OSError`` with that errno), a
weights file that is not the backbone's. Anything else is a bug and keeps its traceback.
``DSN_TRACEBACK=1`` keeps the traceback of every error.
"""

from __future__ import annotations

import os
import sys
import traceback
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
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def one_line_errors(run: Callable[..., T], *args) -> T | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return run(*args)
    except Exception as err:
        _close_progress_bars()
        room = isinstance(err, DiskWriteError) or (isinstance(err, OSError) and err.errno in NO_ROOM)
        known = room or isinstance(err, (*USER_ERRORS, Interrupted))
        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
        basic = multirun and HydraConfig.get().sweeper._target_ == BASIC_SWEEPER
        # a signal stops a whole basic sweep too (a scheduler reads the status)
        stop_sweep = basic and isinstance(err, Interrupted)
        if os.environ.get("DSN_TRACEBACK") or (multirun and not basic) or (not known and not basic) or stop_sweep:
            raise
        if basic:  # this job failed; the others go on
            if not known:
                traceback.print_exc()
            print(f"error in job {_job_name()}: {_one_line(err, room)}", file=sys.stderr, flush=True)
            return None
        if isinstance(err, Interrupted):  # a scheduler reads the status: not a success
            print(f"error: {err}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_STATUS) from None
        raise SystemExit(f"error: {_one_line(err, room)}") from None


def _close_progress_bars() -> None:
    """End any progress bar still drawn (Lightning's, when an error or a signal stops a loop), so
    that the one line that follows starts a line of its own instead of trailing the bar."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()):
        bar.close()


def _job_name() -> str:
    """``<n> (model=..., seed=...)``: the job's number and the settings that tell it from the others."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    swept = {"model", "seed", "data.category", *(hc.sweeper.get("params") or {})}
    own = [o for o in hc.overrides.task if o.split("=", 1)[0].lstrip("+~") in swept]
    return f"{hc.job.num} ({', '.join(own)})"


def _one_line(err: BaseException, room: bool) -> str:
    if room and not isinstance(err, DiskWriteError):
        return f"{err.strerror}: {err.filename}"
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
