"""A trial asked just before a database outage: its asker claims it (the ``worker`` attribute)
only after the server is back, while another worker may already be looking for lost asks (trials
nobody claimed). CI once saw the asker crash on that race: another worker's reconcile failed the
trial as a lost ask between the asker's ``ask`` and its claim, and the asker's claim raised
``UpdateFinishedTrialError``. Now the asker drops such a trial and asks again, and a worker that
has just come through an outage itself waits before failing anyone's unclaimed trials."""

import optuna
import pytest

from hydra_plugins.dsn_sweeper._reconcile import reconcile
from hydra_plugins.dsn_sweeper._sweeper import OptunaWorker

pytestmark = [
    pytest.mark.filterwarnings("ignore:Argument ``heartbeat_interval`` is an experimental feature"),
    pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize"),
]
FAIL, RUNNING = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING
PARAMS = {"model.head.n_blocks": {"type": "int", "low": 2, "high": 12}}


def open_study(url: str) -> optuna.Study:
    rdb = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=2)
    return optuna.load_study(study_name="s", storage=rdb)


@pytest.fixture()
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=url)
    return url


def asker(url: str, tmp_path) -> tuple[OptunaWorker, optuna.Study]:
    worker = OptunaWorker("s", url, 3, 1, 0, ["maximize"], PARAMS, 1, 2, 10.0, 10.0, 2)
    study = open_study(url)
    worker.rdb, worker.sweep_dir = study._storage, tmp_path / "sweep"
    return worker, study


def test_an_ask_failed_as_lost_before_its_claim_is_dropped_and_asked_again(url, tmp_path):
    worker, study = asker(url, tmp_path)
    other = open_study(url)  # a second worker, its own connection
    ask = study.ask
    lost = []

    def ask_then_lose_the_race():
        trial = ask()
        if not lost:  # the first ask: another worker fails it as a lost ask before this one claims it
            reconcile(other, grace_period=-1, orphans=True)
            lost.append(trial.number)
        return trial

    study.ask = ask_then_lose_the_race
    batch = worker._ask(study, 2)  # raised UpdateFinishedTrialError before the fix
    assert [t.number for t, _ in batch] == [1]
    trials = study.get_trials()
    assert trials[0].state == FAIL and trials[0].user_attrs["orphan"] is True
    assert trials[1].state == RUNNING and trials[1].user_attrs["worker"] == worker.worker
    assert set(batch[0][1]) == set(PARAMS)


def test_unclaimed_trials_are_failed_only_when_orphans_may_be(url):
    study = open_study(url)
    study.ask()  # unclaimed: no worker attribute
    reconcile(study, grace_period=-1, orphans=False)  # e.g. right after this worker's own outage
    assert study.get_trials()[0].state == RUNNING
    reconcile(study, grace_period=-1, orphans=True)
    assert study.get_trials()[0].state == FAIL and study.get_trials()[0].user_attrs["orphan"] is True
