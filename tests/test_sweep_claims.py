"""Who resumes an interrupted trial: exactly one of the workers that want it, soon, whatever the
phase of their polling loops. CI once saw three waiting workers, each polling every few seconds,
overwrite each other's claim on one requeued trial for 400 s (each write landed inside another's
settle window, so nobody ever won). These tests run several claimants at once in threads (each its
own storage connection to one SQLite study, as separate worker processes have), on a fixed
schedule that locks them in that phase."""

import threading
import time

import optuna
import pytest

from hydra_plugins.dsn_sweeper import _retries as retries

# these tests open optuna storages with heartbeats themselves (dsn's sweeper filters these two
# notices where it opens one: hydra_plugins/dsn_sweeper/_study.py); here they say nothing about dsn
pytestmark = [
    pytest.mark.filterwarnings("ignore:Argument ``heartbeat_interval`` is an experimental feature"),
    pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize"),
]

SETTLE_S = 0.2


@pytest.fixture()
def requeued(tmp_path, monkeypatch):
    """A study URL with one RUNNING trial waiting to be resumed (number 0)."""
    monkeypatch.setattr(retries, "CLAIM_SETTLE_S", SETTLE_S)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=open_rdb(url))
    trial = study.ask()
    trial.set_user_attr("interruptions", ["its worker stopped beating"])
    trial.set_user_attr("requeue", True)
    return url


def open_rdb(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        url, heartbeat_interval=1, grace_period=2, engine_kwargs={"connect_args": {"timeout": 60}}
    )


def claim_on_schedule(url: str, worker: str, offset: float, period: float, rounds: int, won: dict, start: float):
    """Call ``claim`` at ``start + offset + k * period`` until it returns a trial or the rounds end."""
    study = optuna.load_study(study_name="s", storage=open_rdb(url))
    for k in range(rounds):
        time.sleep(max(0.0, start + offset + k * period - time.monotonic()))
        trial = retries.claim(study, worker)
        if trial is not None:
            won[worker] = (trial.number, k)
            return


def run_claimants(url: str, n: int, period: float, rounds: int) -> dict:
    won, start = {}, time.monotonic() + 0.5
    threads = [
        threading.Thread(target=claim_on_schedule, args=(url, f"w{i}", i * period / n, period, rounds, won, start))
        for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


@pytest.mark.parametrize("n", [2, 3])
def test_phase_locked_workers_hand_the_trial_to_exactly_one_soon(requeued, n):
    # Each claimant writes less than SETTLE_S after the one before it: the lock CI saw.
    won = run_claimants(requeued, n, period=SETTLE_S * 0.75 * n, rounds=12)
    assert len(won) == 1, f"winners {won} (none: the claimants overwrote each other every round)"
    ((worker, (number, k)),) = won.items()
    assert number == 0 and k <= 1  # in the first round or the next, not by luck after many
    frozen = optuna.load_study(study_name="s", storage=open_rdb(requeued)).trials[0]
    assert frozen.user_attrs["worker"] == worker and frozen.user_attrs["requeue"] is False
    assert frozen.state == optuna.trial.TrialState.RUNNING


def test_a_claimant_that_died_blocks_the_trial_only_until_its_claim_expires(requeued, monkeypatch):
    monkeypatch.setattr(retries, "CLAIM_TTL_S", 1.5)
    study = optuna.load_study(study_name="s", storage=open_rdb(requeued))
    trial_id = study.trials[0]._trial_id
    retries.write_claim(study, trial_id, "dead-worker")  # claimed, then killed before it took the trial
    assert retries.claim(study, "live-worker") is None  # the dead claim is first and still fresh
    time.sleep(1.6)
    resumed = retries.claim(study, "live-worker")
    assert resumed is not None and resumed.number == 0
    assert study.trials[0].user_attrs["worker"] == "live-worker"


def test_a_trial_taken_meanwhile_is_not_claimed_again(requeued):
    study = optuna.load_study(study_name="s", storage=open_rdb(requeued))
    assert retries.claim(study, "first") is not None
    assert retries.claim(study, "second") is None
    assert study.trials[0].user_attrs["worker"] == "first"
