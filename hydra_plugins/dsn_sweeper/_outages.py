"""Riding out study-storage outages: a database restart, a failover or a network blip must not
kill the workers or lose a finished trial's result.

Every call a worker makes to the study's storage (ask, tell, heartbeats, the stale check, the
summary's reads) goes through :class:`RetryingRDBStorage`: a call that fails because the server
cannot be reached is retried with backoff for up to ``hydra.sweeper.storage_retry_s`` seconds.
Each outage is logged once when it starts (with the time the worker gives up) and once when it
ends; a worker that gives up stops with one line (:class:`StorageUnreachable`). Errors that are not
about reaching the server (a constraint, a finished trial) pass through at once.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import datetime, timedelta

import optuna
import sqlalchemy.exc

from dsn.utils.secrets import redact

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 8.0  # the longest wait between two tries: a restarted server is seen within this
_OUTAGE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.PendingRollbackError,  # a session a lost connection left half-done: discarded, retried
    ConnectionError,
)


class StorageUnreachable(RuntimeError):
    """The study storage stayed unreachable for the whole retry budget."""

    one_line = True  # its message says what to do: told without a traceback


def is_outage(err: BaseException | None) -> bool:
    """True when ``err`` (or what caused it: Optuna wraps SQLAlchemy's errors) says the server
    could not be reached or the connection was lost."""
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, _OUTAGE):
            return True
        if isinstance(err, sqlalchemy.exc.DBAPIError) and err.connection_invalidated:
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


class Outages:
    """Retries storage calls through outages; one log line per outage, shared by all threads."""

    def __init__(self, url: str, retry_s: float):
        self.url, self.retry_s = redact(url), retry_s
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.recovered_at = -float("inf")  # time.monotonic() at the end of the last outage

    def call(self, fn, *args, reset=None, **kwargs):
        """``fn(*args, **kwargs)``, retried through outages; ``reset()`` (if given) runs before each
        retry, e.g. to discard a database session the lost connection broke."""
        deadline, delay = None, 0.25
        while True:
            try:
                out = fn(*args, **kwargs)
            except Exception as err:
                if not is_outage(err):
                    raise
                if reset is not None:
                    try:
                        reset()
                    except Exception:  # the server is still away: the next try tells
                        pass
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_s
                    self._started(err)
                if now >= deadline:
                    raise StorageUnreachable(
                        f"study storage {self.url} unreachable for {self.retry_s:.0f} s "
                        f"(hydra.sweeper.storage_retry_s; last error: {_first_line(err)}): finished trials keep "
                        f"their results in their folders and are counted when a worker runs again (same command)"
                    ) from None
                time.sleep(min(delay, max(0.0, deadline - now)))
                delay = min(2 * delay, MAX_BACKOFF_S)
                continue
            if deadline is not None:
                self._ended()
            return out

    def _started(self, err: BaseException) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        until = (datetime.now() + timedelta(seconds=self.retry_s)).strftime("%H:%M:%S")
        log.warning(f"study storage {self.url} unreachable ({_first_line(err)}): retrying until {until}")

    def _ended(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            lasted, self._down_since = time.monotonic() - self._down_since, None
            self.recovered_at = time.monotonic()
        log.warning(f"study storage {self.url} reachable again after {lasted:.0f} s")


def _first_line(err: BaseException) -> str:
    cause = err
    while cause.__cause__ is not None:  # the driver's own words, not Optuna's wrapper
        cause = cause.__cause__
    text = str(cause).strip().splitlines()
    return redact(f"{type(cause).__name__}: {text[0] if text else ''}")[:200]


# RDBStorage's calls that open their own database session: its public API, and the private ones
# that Optuna's cache and stale-trial check call directly
_PRIVATE = {"_get_stale_trial_ids", "_get_trials", "_create_new_trial", "_set_trial_param", "_get_best_trial_id"}
_CALLS = sorted(
    name
    for name in set(dir(optuna.storages.BaseStorage)) | {"record_heartbeat"} | _PRIVATE
    if (not name.startswith("_") or name in _PRIVATE)
    and callable(getattr(optuna.storages.RDBStorage, name, None))
    and name not in {"get_heartbeat_interval", "get_failed_trial_callback", "remove_session"}
)


class RetryingRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage whose every database call rides out outages (:class:`Outages`)."""

    def __init__(self, url: str, outages: Outages, **kwargs):
        self.outages = outages
        outages.call(super().__init__, url, **kwargs)

    def discard_session(self) -> None:
        """Drop this thread's session (and its dead connection); the next call opens a new one."""
        self.scoped_session.remove()


def _retrying(name: str):
    method = getattr(optuna.storages.RDBStorage, name)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return self.outages.call(method, self, *args, reset=self.discard_session, **kwargs)

    return call


for _name in _CALLS:
    setattr(RetryingRDBStorage, _name, _retrying(_name))
