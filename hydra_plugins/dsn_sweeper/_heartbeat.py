"""Heartbeats of the trials a worker runs: the record other workers read to tell a live trial
from one whose worker died (Optuna's RDB heartbeat, written by this worker while its launcher
runs the trials, in-process or as submitit/SLURM jobs)."""

from __future__ import annotations

import logging
import threading

import optuna

log = logging.getLogger(__name__)


class Heartbeats:
    """``with Heartbeats(storage, trials):`` beats for every trial now and every interval until exit."""

    def __init__(self, storage: optuna.storages.RDBStorage, trials: list[optuna.Trial]):
        self.storage = storage
        # the storage keys heartbeats by trial id; Trial exposes it only as _trial_id
        self.trial_ids = [t._trial_id for t in trials]
        self.interval = storage.get_heartbeat_interval() or 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dsn-sweep-heartbeat", daemon=True)

    def beat(self) -> None:
        for trial_id in self.trial_ids:
            try:
                self.storage.record_heartbeat(trial_id)
            except Exception as err:  # a passing database error must not kill the trials
                log.warning(f"heartbeat of trial id {trial_id} not recorded: {err}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def __enter__(self) -> Heartbeats:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
