"""User errors end a command with one line, not a traceback.

A user error is one whose message already names the file or setting and what to do: a bad
setting, a busy or mismatched run directory, an unusable image, a missing folder, weights that
cannot be fetched. In a single run it ends the command with ``error: <message>`` (exit status 1);
inside a multirun it is raised as usual, so that only that job (trial) fails and the sweep goes on.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dsn.engine.config_checks import ConfigError
from dsn.engine.run_dir import RunDirError
from dsn.model.backbones import WeightsUnavailable
from dsn.utils.image_files import ImageError

USER_ERRORS = (ConfigError, RunDirError, ImageError, FileNotFoundError, WeightsUnavailable)
T = TypeVar("T")


def one_line_errors(run: Callable[..., T], *args) -> T:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return run(*args)
    except USER_ERRORS as err:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        raise SystemExit(f"error: {err}") from None
