"""Putting a study's RUNNING trials right before a worker fails stale ones or asks new ones.

- A trial whose run already wrote its result (``objective.json``) but whose worker could not tell
  the study (the database was down, the worker was killed in between) is told COMPLETE with those
  values: the finished work counts, and no replacement is trained.
- A trial created by an ``ask`` whose answer was lost in an outage was never claimed by a worker
  (no ``worker`` attribute) and never beats; after ``grace_period`` it is failed (``orphan``), or
  it would hold a place in the budget for ever. Not right after an outage: an asker whose ask went
  through just before it claims its trial only when the server is back (and if it loses that race,
  it drops the trial and asks again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import optuna

from dsn.results.trial_result import read_trial_result

log = logging.getLogger(__name__)
RUNNING, FAIL = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL


def reconcile(study: optuna.Study, grace_period: float, orphans: bool) -> None:
    """Count the results never told; fail the lost asks too when ``orphans`` (the caller's storage
    has been reachable long enough that a live asker had time to claim its trial)."""
    now = datetime.now()
    n_values = len(study.directions)
    for t in study.get_trials(deepcopy=False, states=(RUNNING,)):
        values = read_trial_result(t.user_attrs.get("output_dir"), n_values)
        try:
            if values is not None:
                study.tell(t.number, values, skip_if_finished=True)
                log.info(f"trial {t.number} had finished ({values}) but was never told: counted COMPLETE")
            elif (
                orphans
                and "worker" not in t.user_attrs
                and t.datetime_start
                and now - t.datetime_start > timedelta(seconds=grace_period)
            ):
                study._storage.set_trial_user_attr(t._trial_id, "orphan", True)
                study.tell(t.number, state=FAIL, skip_if_finished=True)
                log.info(f"trial {t.number} was created by a lost request and never run: failed")
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker got there first
            pass
