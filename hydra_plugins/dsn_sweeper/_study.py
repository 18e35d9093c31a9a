"""Opening the shared Optuna study that any number of sweep workers use at once.

- Storage: an SQLAlchemy URL (``postgresql://user@host/db`` is taken through psycopg 3, a
  dependency of dsn, whatever SQLAlchemy's default driver for it is), or by default an SQLite
  file beside the sweep directories (several workers on one machine; SQLite waits up to a
  minute for a lock instead of failing at once).
- Liveness: the storage records a heartbeat per running trial; a trial whose heartbeat is older
  than ``grace_period`` belonged to a dead worker and is failed by whichever worker sees it first.
  A live worker's trial is never failed.
- Outages: every storage call rides out a lost server for ``storage_retry_s`` (:mod:`._outages`).
- Identity: a study stores what defines its trials and refuses workers of another experiment
  (:mod:`.identity`).
- Sampling: each trial's values depend only on the study seed, the trial number and the
  parameter name, so workers that start together draw different points and a study is
  reproducible whatever the number or timing of its workers.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from dsn.utils.secrets import redact
from hydra_plugins.dsn_sweeper._outages import Outages, RetryingRDBStorage
from hydra_plugins.dsn_sweeper.identity import ATTR, HASH_ATTR, check_identity, identity_hash

log = logging.getLogger(__name__)


class TrialSeededRandomSampler(optuna.samplers.BaseSampler):
    """Random search whose draw for (trial number, parameter) is fixed by the study seed."""

    def __init__(self, seed: int):
        self.seed = seed

    def infer_relative_search_space(self, study, trial) -> dict:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict:
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        digest = hashlib.sha256(f"{self.seed}:{trial.number}:{param_name}".encode()).digest()
        one_draw = optuna.samplers.RandomSampler(seed=int.from_bytes(digest[:4], "little"))
        return one_draw.sample_independent(study, trial, param_name, param_distribution)


def storage_url(storage: str | None, default_sqlite: Path) -> str:
    """The SQLAlchemy URL of the study: ``storage`` as given (postgresql:// through psycopg 3), or
    the default SQLite file (its folder created)."""
    if not storage:
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{default_sqlite.resolve()}"
    if storage.startswith("postgresql://") or storage.startswith("postgres://"):
        return "postgresql+psycopg://" + storage.split("://", 1)[1]
    return storage


def open_storage(url: str, heartbeat_interval: int, grace_period: int, outages: Outages, attempts: int = 5):
    """An RDB storage with heartbeats whose calls ride out outages. Workers started together may
    race to create the tables of a new database; the loser retries after a short random wait."""
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are used on purpose (optuna marks them experimental)
                warnings.filterwarnings("ignore", message="Argument ``heartbeat_interval`` is an experimental")
                warnings.filterwarnings("ignore", message="Argument ``grace_period`` is an experimental")
                return RetryingRDBStorage(
                    url,
                    outages,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                )
        except Exception as err:  # table creation raced with another worker
            if attempt == attempts - 1 or getattr(err, "one_line", False):
                raise
            log.warning(f"opening {redact(url)} failed ({type(err).__name__}); retrying")
            time.sleep(0.5 + random.random() * 2)
    raise AssertionError("unreachable")


def open_study(
    name: str, storage: optuna.storages.RDBStorage, seed: int, directions: list[str], identity: dict[str, str]
) -> optuna.Study:
    """Create the study or join it (several workers may create it at the same moment); a study
    created for another experiment raises :class:`~.identity.StudyMismatch`."""
    for attempt in range(5):
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=TrialSeededRandomSampler(seed),
                directions=directions,
                load_if_exists=True,
            )
            break
        except optuna.exceptions.DuplicatedStudyError:
            if attempt == 4:
                raise
            time.sleep(0.2 + random.random())
    stored = study.user_attrs.get(ATTR)
    if stored is None:  # new (or made before dsn stored identities): this worker's experiment defines it
        study.set_user_attr(ATTR, identity)
        study.set_user_attr(HASH_ATTR, identity_hash(identity))
        stored = study.user_attrs.get(ATTR)  # re-read: a worker of another experiment may have raced this one
    check_identity(name, stored, identity)
    return study


def suggest(trial: optuna.Trial, params: dict[str, dict]) -> dict[str, Any]:
    out = {}
    for key, spec in params.items():
        kind = spec.get("type")
        if kind == "int":
            out[key] = trial.suggest_int(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        elif kind == "float":
            out[key] = trial.suggest_float(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        elif kind == "categorical":
            out[key] = trial.suggest_categorical(key, list(spec["choices"]))
        else:
            raise ValueError(f"hydra.sweeper.params.{key}: type must be int, float or categorical, got {kind!r}")
    return out
