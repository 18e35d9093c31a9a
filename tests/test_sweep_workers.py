"""Many sweep workers on one study, as on a cluster: a real PostgreSQL server, real worker
processes (one SIGKILLed mid-trial and restarted), real submitit jobs, and the SQLite default
with two workers on one machine. The study must end with exactly the budget COMPLETE, no
trial run twice with the same values, and every COMPLETE value equal to its run's metrics.json."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from conftest import REPO, make_tree, pg_sweep_cmd, sweep_cmd

COMPLETE, RUNNING = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING
STUDY = "debug_differsqueezenet_toy"  # hparams_search=debug + debug=default on the 'toy' category


def wait_all(procs, timeout=400):
    deadline = time.monotonic() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            codes.append(None)
    for p, code in zip(procs, codes):
        if code != 0:
            print(f"--- worker {p.pid} exited {code}:\n{Path(p.log).read_text()[-3000:]}")
    return codes


def check_study(study: optuna.Study, n_trials: int) -> list:
    """Exactly ``n_trials`` COMPLETE, none RUNNING, no two trials with the same values, and each
    COMPLETE value equal to the AUROC its run wrote."""
    trials = study.get_trials()
    done = [t for t in trials if t.state == COMPLETE]
    assert len(done) == n_trials, [(t.number, t.state.name) for t in trials]
    assert not [t for t in trials if t.state == RUNNING]
    drawn = [tuple(sorted(t.params.items())) for t in trials if t.params]
    assert len(drawn) == len(set(drawn)), "two trials drew the same values"
    for t in done:
        metrics = json.loads((Path(t.user_attrs["output_dir"]) / "metrics.json").read_text())
        assert metrics["auroc"] == t.value and metrics["hidden"] == t.params["model.head.hidden"]
    return trials


def kill_mid_trial(victim, storage: str, number: int):
    """SIGKILL ``victim`` only while its trial ``number`` is still RUNNING, and return the number;
    None if the trial finished first (a fast machine ends a toy trial within a second: CI once
    saw one COMPLETE after a fixed 1 s wait). The worker is frozen with SIGSTOP before the
    check, so the trial cannot finish between the check and the kill."""
    os.killpg(victim.pid, signal.SIGSTOP)
    trial = optuna.load_study(study_name=STUDY, storage=storage).trials[number]
    if trial.state == RUNNING:
        os.killpg(victim.pid, signal.SIGKILL)
        return number
    os.killpg(victim.pid, signal.SIGCONT)  # it finished: wait for its next trial
    return None


def test_workers_share_a_postgres_study_and_survive_a_kill(tmp_path, pg_url, processes):
    """Two workers in parallel plus a third that is SIGKILLed mid-trial and started again."""
    root = make_tree(tmp_path / "data", n_train=30)
    n_trials = 6
    cmd = pg_sweep_cmd(root, tmp_path / "logs", pg_url, n_trials, "trainer.max_epochs=20")
    a, b, victim = (processes.start(cmd) for _ in range(3))
    storage = pg_url.replace("postgresql://", "postgresql+psycopg://")
    killed, deadline = None, time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and victim.poll() is None:
        try:
            running = optuna.load_study(study_name=STUDY, storage=storage).get_trials(states=(RUNNING,))
        except Exception:  # the study is not created yet
            running = []
        mine = [t for t in running if t.user_attrs.get("worker", "").endswith(f":{victim.pid}")]
        if mine:
            killed = kill_mid_trial(victim, storage, mine[0].number)
        time.sleep(0.2)
    assert killed is not None, f"the third worker never ran a trial:\n{Path(victim.log).read_text()[-3000:]}"
    victim.wait()
    restarted = processes.start(cmd)
    assert wait_all([a, b, restarted]) == [0, 0, 0]

    trials = check_study(optuna.load_study(study_name=STUDY, storage=storage), n_trials)
    # resumed, not redrawn: the same number and values, so the same points as an uninterrupted study
    assert trials[killed].state == COMPLETE and "stopped beating" in trials[killed].user_attrs["interruptions"][0]
    assert {t.number for t in trials if t.state == COMPLETE} == set(range(n_trials))
    workers = {t.user_attrs.get("worker") for t in trials if t.state == COMPLETE}
    assert len(workers) >= 2  # the trials really were shared out


def test_two_workers_on_the_default_sqlite_study(tmp_path, processes):
    root = make_tree(tmp_path / "data")
    logs = tmp_path / "logs"
    cmd = sweep_cmd(root, logs, "hydra.sweeper.n_trials=4")
    assert wait_all([processes.start(cmd), processes.start(cmd)]) == [0, 0]
    db = logs / "debug" / "multiruns" / f"{STUDY}.db"
    check_study(optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}"), 4)


def test_two_workers_with_submitit_jobs_on_postgres(tmp_path, pg_url, processes):
    """hydra/launcher=local: every trial a real submitit job; two workers, two jobs each at once."""
    root = make_tree(tmp_path / "data")
    cmd = sweep_cmd(
        root,
        tmp_path / "logs",
        f"hydra.sweeper.storage='{pg_url}'",
        "hydra.sweeper.n_trials=3",
        "hydra/launcher=local",
        "hydra.sweeper.n_jobs=2",
    )
    assert wait_all([processes.start(cmd), processes.start(cmd)]) == [0, 0]
    storage = pg_url.replace("postgresql://", "postgresql+psycopg://")
    check_study(optuna.load_study(study_name=STUDY, storage=storage), 3)


def test_slurm_launcher_without_slurm_stops_before_any_trial(tmp_path):
    root = make_tree(tmp_path / "data")
    logs = tmp_path / "logs"
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # no sbatch there, whatever this machine has
    out = subprocess.run(
        sweep_cmd(root, logs, "hydra/launcher=slurm"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "hydra/launcher=slurm needs SLURM" in out.stderr and "sbatch" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(logs.rglob("*.db"))  # no study, so no trial left RUNNING
