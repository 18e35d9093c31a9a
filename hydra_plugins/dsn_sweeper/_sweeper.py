"""A Hydra sweeper on current Optuna: many workers, one study, nothing lost, nothing doubled.

Why not ``hydra-optuna-sweeper``: it pins optuna<3, whose RDB storage breaks on SQLAlchemy 2.
This sweeper keeps Hydra's interface (``hydra/sweeper=dsn_optuna``, any Hydra launcher: basic,
submitit local or SLURM).

Each ``dsn-train -m hparams_search=...`` process is a *worker*. Any number of workers (same
command, same ``storage``, same study name) share one study and can be killed and restarted at
any moment (:mod:`._study` has the storage, heartbeats and sampler):

- a worker asks a trial only while the budget has room: ``n_trials`` minus the COMPLETE trials
  minus the trials running anywhere. Two workers that ask at the same instant for the last
  place both get a trial; the one whose trial number is higher sees that the budget is taken by
  trials before it and drops its trial (told FAIL, user attribute ``surplus``) before running
  it. So the study ends with exactly ``n_trials`` COMPLETE;
- a trial whose worker died stops beating and is failed by a live worker after
  ``grace_period`` seconds; its place in the budget is asked again. A worker waits while the
  rest of the budget is running elsewhere, since any of those may still fail;
- each trial runs in ``<sweep dir>/<trial number>``, gets ``trial=<number>`` (W&B names the run
  after it), and records its worker and folder as user attributes;
- a trial finished or failed by another worker in the meantime is left as it is;
- the study's storage may go away and come back (a database restart): every storage call is
  retried for ``storage_retry_s`` (:mod:`._outages`), and a trial whose result could not be told
  is counted from its ``objective.json`` by the next worker that looks (:mod:`._reconcile`);
- a study is one experiment (:mod:`.identity`): a worker of another one stops with one line;
- passwords in ``storage`` are written nowhere (logs, summaries, saved configs show ``***``).

Search space (``params``), one entry per config key:
    model.head.hidden: {type: int, low: 128, high: 4096, log: true}
    model.head.n_blocks: {type: int, low: 2, high: 12}
    model.features.n_features: {type: categorical, choices: [64, 128, 256, 384, 512]}
    model.optimizer.lr: {type: float, low: 1e-5, high: 1e-3, log: true}
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dsn.utils.secrets import redact
from hydra_plugins.dsn_sweeper._heartbeat import Heartbeats
from hydra_plugins.dsn_sweeper._outages import MAX_BACKOFF_S, Outages
from hydra_plugins.dsn_sweeper._reconcile import reconcile
from hydra_plugins.dsn_sweeper._retries import WorkerSignalled, claim, requeue, requeue_stale, stop_on_sigterm
from hydra_plugins.dsn_sweeper._study import open_storage, open_study, storage_url, suggest
from hydra_plugins.dsn_sweeper._summary import write_summary
from hydra_plugins.dsn_sweeper.guards import TrialsFailing, check_launcher, hide_passwords
from hydra_plugins.dsn_sweeper.identity import study_identity
from hydra_plugins.dsn_sweeper.launchers import last_line

log = logging.getLogger(__name__)
WAIT_POLL_S = 2  # how often a waiting worker looks again (a trial ending elsewhere frees it at once)
COMPLETE, RUNNING, FAIL = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.RUNNING,
    optuna.trial.TrialState.FAIL,
)


class OptunaWorker(Sweeper):
    def __init__(
        self,
        study_name: str,
        storage: str | None,
        n_trials: int,
        n_jobs: int,
        seed: int,
        directions: list[str],
        params: dict,
        heartbeat_interval: int,
        grace_period: int,
        storage_retry_s: float,
        max_wait_s: float,
        max_retries: int,
    ):
        self.study_name = study_name
        self.storage = storage
        self.n_trials = n_trials
        self.n_jobs = max(1, n_jobs)
        self.seed = seed
        self.directions = list(directions or ["maximize"])
        self.params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else (params or {})
        if not self.params:
            raise ValueError("hydra.sweeper.params is empty: give at least one search dimension")
        if heartbeat_interval < 1 or grace_period <= heartbeat_interval:
            raise ValueError(
                f"hydra.sweeper.grace_period ({grace_period}) must exceed "
                f"hydra.sweeper.heartbeat_interval ({heartbeat_interval} s, at least 1)"
            )
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.storage_retry_s = storage_retry_s
        self.max_wait_s = max_wait_s
        self.max_retries = max_retries
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        check_launcher(config)
        self.identity = study_identity(config, self.params, self.seed, self.directions)
        hide_passwords(config)  # before the launcher saves the config (multirun.yaml, each trial's .hydra/)
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.in_process = type(self.launcher).__name__ == "BasicLauncher"  # trials run inside this worker

    def sweep(self, arguments: list[str]) -> Any:
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        self.storage_url = storage_url(self.storage, self.sweep_dir.parent / f"{self.study_name}.db")
        self.outages = Outages(self.storage_url, self.storage_retry_s)
        if self.in_process:
            stop_on_sigterm()
        try:
            return self._sweep(arguments)
        except WorkerSignalled as err:  # between trials: a running trial, if any, was handed on
            self._stop_signalled(str(err))
        except Exception as err:
            # StorageUnreachable, StudyMismatch: one line, no traceback (Hydra passes SystemExit).
            # Tested by attribute, not class: Hydra's plugin scan may import these modules twice.
            if getattr(err, "one_line", False) and not os.environ.get("DSN_TRACEBACK"):
                raise SystemExit(f"error: {err}") from None
            raise

    def _sweep(self, arguments: list[str]) -> Any:
        self.rdb = open_storage(self.storage_url, self.heartbeat_interval, self.grace_period, self.outages)
        study = open_study(self.study_name, self.rdb, self.seed, self.directions, self.identity)
        log.info(
            f"worker {self.worker} joined study '{self.study_name}' in {redact(self.storage_url)}: "
            f"{len(study.get_trials(deepcopy=False))} trials stored"
        )
        done = len(study.get_trials(deepcopy=False, states=(COMPLETE,)))
        if done >= self.n_trials:  # a rerun of a finished study: say so, and what it found (below)
            log.info(
                f"study '{self.study_name}' is finished ({done} of hydra.sweeper.n_trials={self.n_trials} trials "
                f"complete): nothing to run; raise n_trials to search further. Its result:"
            )
        failed_in_a_row, waiting_since = 0, None
        while True:
            since_outage = time.monotonic() - self.outages.recovered_at
            # results that were never told; lost asks, but not right after an outage: an asker whose
            # ask went through just before it may still be retrying the write that claims the trial
            reconcile(study, self.grace_period, orphans=since_outage > self.grace_period + MAX_BACKOFF_S)
            if since_outage > self.heartbeat_interval + MAX_BACKOFF_S + 2:
                # trials whose worker stopped beating are resumed; right after an outage, live
                # workers get time to beat again first (nobody could beat while the storage was down)
                requeue_stale(study, self.max_retries)
            n_complete, n_running = (len(study.get_trials(deepcopy=False, states=(s,))) for s in (COMPLETE, RUNNING))
            if n_complete >= self.n_trials:
                break
            resumed = claim(study, self.worker)  # an interrupted trial first: same number, values and folder
            if resumed is not None:
                batch = [(resumed, suggest(resumed, self.params))]
            else:
                room = self.n_trials - n_complete - n_running
                if room <= 0:
                    if waiting_since is None:
                        waiting_since = time.monotonic()
                        log.info(
                            f"{n_running} trial(s) of the budget running elsewhere: waiting up to "
                            f"{self.max_wait_s:.0f} s in case one fails (hydra.sweeper.max_wait_s)"
                        )
                    elif time.monotonic() - waiting_since > self.max_wait_s:  # free this job's allocation
                        log.info(
                            f"worker {self.worker} ends: the rest of the budget ({n_running} trial(s)) is running "
                            f"elsewhere; if one fails, a running worker or the same command again takes its place"
                        )
                        return study
                    time.sleep(min(self.heartbeat_interval, WAIT_POLL_S))
                    continue
                waiting_since = None
                batch = self._ask(study, min(self.n_jobs, room))
                if not batch:
                    continue
            try:
                with Heartbeats(self.rdb, [t for t, _ in batch]):
                    results = self._launch(arguments, batch)
            except WorkerSignalled as err:  # outside the trials' own code: hand them on, then stop
                for trial, _ in batch:
                    requeue(study, trial._trial_id, str(err), self.max_retries)
                raise
            for (trial, _), result in zip(batch, results):
                failed_in_a_row = 0 if self._tell(study, trial, result) else failed_in_a_row + 1
            if failed_in_a_row >= max(3, self.n_jobs):
                raise TrialsFailing(
                    f"{failed_in_a_row} trials in a row failed (the last: {self.last_failure}; logs under "
                    f"{self.sweep_dir}): the sweep stops rather than burn its budget; fix the cause and run the "
                    f"same command again to resume"
                )
        write_summary(study, self.sweep_dir, self.storage_url, self.config)
        return study

    def _ask(self, study: optuna.Study, n: int) -> list[tuple[optuna.Trial, dict]]:
        """Up to ``n`` new trials with their values; a trial the budget has no room for is dropped."""
        batch = []
        for _ in range(n):
            with warnings.catch_warnings():  # Optuna's note that heartbeats are meant for Study.optimize
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = study.ask()
            self.rdb.record_heartbeat(trial._trial_id)  # at once: a trial without a beat is never failed
            ahead = [t for t in study.get_trials(deepcopy=False, states=(COMPLETE, RUNNING)) if t.number < trial.number]
            if len(ahead) >= self.n_trials:
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=FAIL, skip_if_finished=True)
                log.info(f"trial {trial.number} dropped: the budget is taken by trials started before it")
                break
            try:
                trial.set_user_attr("worker", self.worker)
                trial.set_user_attr("output_dir", str(self.sweep_dir / str(trial.number)))
            except optuna.exceptions.UpdateFinishedTrialError:  # failed as a lost ask by another worker
                log.info(f"trial {trial.number} was failed by another worker before this one claimed it: asking again")
                continue
            batch.append((trial, suggest(trial, self.params)))
        return batch

    def _launch(self, arguments: list[str], batch: list[tuple[optuna.Trial, dict]]):
        """Run the batch; each trial in ``<sweep dir>/<trial number>`` whatever else runs at once."""
        overrides = [
            tuple(arguments)
            + tuple(f"{k}={v}" for k, v in chosen.items())
            + (f"trial={trial.number}", f"hydra.sweep.subdir={trial.number}")
            for trial, chosen in batch
        ]
        return self.launcher.launch(overrides, initial_job_idx=batch[0][0].number)

    def _tell(self, study: optuna.Study, trial: optuna.Trial, result) -> bool:
        """Record a finished job in the study; False when the trial failed."""
        try:
            value = result.return_value
        except Exception as err:  # the job raised or died: that trial failed, the sweep goes on
            if not getattr(err, "infrastructure", False):  # the trial's own fault: retrying would fail again
                return self._fail(study, trial, last_line(err))
            if requeue(study, trial._trial_id, last_line(err), self.max_retries) and self.in_process:
                # the signal that stopped the run was sent to this very process (an array task
                # cancelled, preempted or out of time): the worker ends too, not as a success
                self._stop_signalled(
                    f"stopped by a signal ({last_line(err)}); trial {trial.number} is resumed with the same values "
                    f"(from its checkpoint, if it saved one) by a running worker or the same command again"
                )
            return True
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if len(values) != len(self.directions) or any(v is None or not math.isfinite(float(v)) for v in values):
            return self._fail(study, trial, f"returned {value!r} for directions {self.directions}")
        try:
            frozen = study.tell(trial, [float(v) for v in values], skip_if_finished=True)
        except optuna.exceptions.UpdateFinishedTrialError:  # a tell whose answer was lost in an outage, or reconciled
            frozen = study.get_trials(deepcopy=False)[trial.number]
        if frozen.state != COMPLETE:
            log.warning(
                f"trial {trial.number} finished, but another worker had already marked it {frozen.state.name} "
                f"(its heartbeat was late by more than hydra.sweeper.grace_period): its result is not counted"
            )
        return True

    def _fail(self, study: optuna.Study, trial: optuna.Trial, reason: str) -> bool:
        """Tell the trial FAIL with its cause (user attribute ``fail_reason``, one log line); False."""
        self.last_failure = f"trial {trial.number}: {reason}"
        log.warning(f"trial {trial.number} failed: {reason}")
        try:
            trial.set_user_attr("fail_reason", reason)
            study.tell(trial, state=FAIL, skip_if_finished=True)
        except optuna.exceptions.UpdateFinishedTrialError:  # failed as stale meanwhile
            pass
        return False

    def _stop_signalled(self, why: str) -> None:
        """End a worker that a signal stopped: one line, exit status 143 (128 + SIGTERM), never 0."""
        print(f"error: worker {self.worker} {why}", file=sys.stderr, flush=True)
        raise SystemExit(143) from None
