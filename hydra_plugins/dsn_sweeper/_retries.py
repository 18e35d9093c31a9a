"""Interrupted trials are resumed, not redrawn: the same trial number, the same parameters, the
same folder (so the run resumes from the checkpoint it saved when it was stopped).

A trial is *interrupted* when its run was stopped by a signal (SIGTERM: scancel, preemption, the
time limit; dsn saved a checkpoint), its job died (cancelled, killed, out of time or memory), or
its worker stopped beating (killed with the node). Such a trial stays RUNNING, gets the cause
appended to its user attribute ``interruptions`` and ``requeue=True``; any worker then claims it
and runs it again. After ``max_retries`` interruptions it is told FAIL (``fail_reason``). Since a
trial's values depend only on the study seed and its number, an interrupted study ends with the
same points as an uninterrupted one.
"""

from __future__ import annotations

import logging
import signal
import time

import optuna

log = logging.getLogger(__name__)
RUNNING, FAIL = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL
CLAIM_SETTLE_S = 1.0  # a claim waits this long for claims written at the same moment to be visible
CLAIM_TTL_S = 60.0  # a claim older than this (its worker died before taking the trial) is passed over
CLAIM_PREFIX = "claim:"


def requeue(study: optuna.Study, trial_id: int, reason: str, max_retries: int) -> bool:
    """Record an interruption; True when the trial waits to be resumed, False when its retries are
    spent and it was told FAIL."""
    storage = study._storage
    frozen = storage.get_trial(trial_id)
    if frozen.state != RUNNING:
        return False
    causes = [*frozen.user_attrs.get("interruptions", []), reason]
    storage.set_trial_user_attr(trial_id, "interruptions", causes)
    if len(causes) > max_retries:
        storage.set_trial_user_attr(trial_id, "fail_reason", f"interrupted {len(causes)} times, the last: {reason}")
        try:
            study.tell(frozen.number, state=FAIL, skip_if_finished=True)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
        log.warning(f"trial {frozen.number} failed: interrupted {len(causes)} times (hydra.sweeper.max_retries)")
        return False
    storage.set_trial_user_attr(trial_id, "requeue", True)
    log.warning(f"trial {frozen.number} interrupted ({reason}): it is resumed with the same parameters")
    return True


def requeue_stale(study: optuna.Study, max_retries: int) -> None:
    """Trials whose worker stopped beating (and that are not already waiting) are interrupted."""
    storage = study._storage
    for trial_id in storage._get_stale_trial_ids(study._study_id):
        if not storage.get_trial(trial_id).user_attrs.get("requeue"):
            requeue(study, trial_id, "its worker stopped beating (killed, or its node lost)", max_retries)


def write_claim(study: optuna.Study, trial_id: int, worker: str) -> None:
    """Stake ``worker``'s claim on a waiting trial: a user attribute of its own (``claim:<round>:<worker>``
    = wall time), so no claimant overwrites another's; a fresh claim of its own is kept (its time
    is its place in line)."""
    frozen = study._storage.get_trial(trial_id)
    key = f"{CLAIM_PREFIX}{len(frozen.user_attrs.get('interruptions', []))}:{worker}"
    if time.time() - frozen.user_attrs.get(key, 0.0) > CLAIM_TTL_S:
        study._storage.set_trial_user_attr(trial_id, key, time.time())


def first_claimant(frozen: optuna.trial.FrozenTrial) -> str | None:
    """The worker whose fresh claim of this round came first (ties: the smaller name)."""
    prefix = f"{CLAIM_PREFIX}{len(frozen.user_attrs.get('interruptions', []))}:"
    fresh = [
        (stamp, key[len(prefix) :])
        for key, stamp in frozen.user_attrs.items()
        if key.startswith(prefix) and time.time() - stamp <= CLAIM_TTL_S
    ]
    return min(fresh)[1] if fresh else None


def claim(study: optuna.Study, worker: str) -> optuna.Trial | None:
    """A trial waiting to be resumed, now this worker's (its heartbeat recorded), or None.

    First claim wins: every claimant writes its own claim, waits ``CLAIM_SETTLE_S`` for the others
    to be visible, and only the earliest fresh one takes the trial. (A single shared ``worker``
    attribute, last write wins, let claimants whose polls were in step overwrite each other's
    claim for ever.) A claimant that died is passed over once its claim is ``CLAIM_TTL_S`` old."""
    storage = study._storage
    for frozen in study.get_trials(deepcopy=False, states=(RUNNING,)):
        if not frozen.user_attrs.get("requeue"):
            continue
        first = first_claimant(frozen)
        if first is not None and first != worker:
            continue  # someone is ahead in line
        write_claim(study, frozen._trial_id, worker)
        time.sleep(CLAIM_SETTLE_S)
        now = storage.get_trial(frozen._trial_id)
        if now.state == RUNNING and now.user_attrs.get("requeue") and first_claimant(now) == worker:
            storage.record_heartbeat(frozen._trial_id)  # first: a trial not waiting and not beating is stale
            storage.set_trial_user_attr(frozen._trial_id, "worker", worker)
            storage.set_trial_user_attr(frozen._trial_id, "requeue", False)
            log.info(f"trial {frozen.number} resumed by worker {worker}: {frozen.params}")
            return optuna.trial.Trial(study, frozen._trial_id)
    return None


class WorkerSignalled(RuntimeError):
    """SIGTERM reached a worker outside a trial's training (starting a trial, caching features,
    between trials): raised where the worker is, so the trial it holds is handed on at once."""

    infrastructure = True


def stop_on_sigterm() -> None:
    """A worker that runs its trials in-process turns SIGTERM into :class:`WorkerSignalled`.
    Inside a fit, Lightning's handler runs first and calls this one: then only Lightning's own
    graceful stop (checkpoint, :class:`dsn.lit.interruption.Interrupted`) happens."""

    def on_sigterm(signum, frame) -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:  # not inside Lightning's fit
            raise WorkerSignalled("stopped by SIGTERM outside training: its trial is resumed with the same values")

    signal.signal(signal.SIGTERM, on_sigterm)
