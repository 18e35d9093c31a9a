"""The cluster commands of docs/sweeps_and_clusters.md on a real single-node SLURM 22.05 (tests/slurm_cluster.py) with
a real PostgreSQL study, scaled to debug size: the job array, the launcher worker, both together
on one study; a trial job cancelled or killed fails its trial alone; a launch SLURM refuses is one
line and leaves nothing RUNNING. Every daemon is ended by PID, also when a test fails."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import FAST_BEATS, REPO, SLURM_JOBS, make_tree
from slurm_cluster import SlurmCluster, missing_programs
from test_sweep_workers import STUDY, check_study, wait_all

COMPLETE, RUNNING, FAIL = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.RUNNING,
    optuna.trial.TrialState.FAIL,
)
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_programs()
    if missing or os.geteuid() != 0:
        why = f"a SLURM cluster needs root and {missing or 'its daemons'} (make system-deps installs them)"
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs them: a skip there would hide a broken setup
        pytest.skip(why)
    c = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def readme_command(opening: str) -> str:
    """The cluster page's code block that starts with ``opening``, joined into one line."""
    text = (REPO / "docs" / "sweeps_and_clusters.md").read_text()
    start = text.index(opening)
    block = text[start : text.index("\n\n", start)]
    return re.sub(r"\\\n\s*", "", block).strip()


def scaled(command: str, root: Path, logs: Path, *extra: str) -> str:
    """The cluster page's command at debug size on this node."""
    swaps = [
        ("--array=0-7", "--array=0-2"),
        ("--gres=gpu:1 ", ""),  # this node has no GPU; trainer=cpu asks for none
        ("--cpus-per-task=8 --mem=32G", "--cpus-per-task=1 --mem=1G"),
        (".venv/bin/dsn-train", f"{VENV_BIN}/dsn-train"),
        ("hparams_search=paper_random", "hparams_search=debug debug=default"),
        ("trainer=gpu", "trainer=cpu"),
        ("hydra.sweeper.n_jobs=8", "hydra.sweeper.n_jobs=2"),
        ("hydra.launcher.partition=<partition>", "hydra.launcher.partition=debug"),
        ("data.root=/data/mvtec data.category=bottle", f"data.root={root} data.category=toy data.image_size=32"),
        (
            "model.features.weights=/data/weights/squeezenet1_1_imagenet.pth",
            " ".join([f"paths.log_dir={logs}", *FAST_BEATS, *extra]),
        ),
    ]
    for old, new in swaps:
        if old in command:
            command = command.replace(old, new)
    assert "/data/" not in command and "<" not in command, command
    return command


def array_command(root, logs, *extra) -> str:
    return scaled(readme_command("sbatch --array"), root, logs, *extra)


def launcher_command(root, logs, *extra) -> list[str]:
    cmd = scaled(readme_command(".venv/bin/dsn-train -m hparams_search=paper_random hydra/launcher=slurm"), root, logs)
    # the node has 2 CPUs and 8 GB: each trial job asks for 1 CPU and 1 GB
    return [*cmd.split(), "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", *extra]


def sbatch(cluster, command: str, cwd: Path, env: dict) -> int:
    out = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    job = int(re.search(r"Submitted batch job (\d+)", out.stdout).group(1))
    SLURM_JOBS.append(str(job))
    return job


def job_states(cluster, job: int) -> dict[str, str]:
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", str(job), "-o", "JobID,State,ExitCode"],
        env=cluster.env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    rows = [line.split("|") for line in out.stdout.splitlines() if line.strip()]
    return {job_id: f"{state} {code}" for job_id, state, code in rows}  # e.g. "CANCELLED by 0 0:15"


def wait_jobs_done(cluster, job: int, timeout=400) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = subprocess.run(["squeue", "-h", "-j", str(job)], env=cluster.env(), capture_output=True, text=True)
        if not queued.stdout.strip():
            return job_states(cluster, job)
        time.sleep(1)
    raise AssertionError(f"job {job} still queued after {timeout} s:\n{cluster.logs()}")


def env_for(cluster, pg_url: str) -> dict:
    return {**cluster.env(), "DSN_SWEEP_STORAGE": pg_url, "OMP_NUM_THREADS": "1"}


def study(pg_url: str) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=pg_url.replace("postgresql://", "postgresql+psycopg://"))


@pytest.mark.slow  # the array path also runs, beside the launcher, in test_array_and_launcher_together_...
def test_the_readme_job_array_runs_its_trials(cluster, tmp_path, pg_url):
    root, logs = make_tree(tmp_path / "data", n_train=12), tmp_path / "logs"
    job = sbatch(cluster, array_command(root, logs, "hydra.sweeper.n_trials=6"), tmp_path, env_for(cluster, pg_url))
    states = wait_jobs_done(cluster, job)
    assert len(states) == 3 and all(s == "COMPLETED 0:0" for s in states.values()), states
    trials = check_study(study(pg_url), 6)
    workers = {t.user_attrs["worker"] for t in trials if t.state == COMPLETE}
    assert len(workers) >= 2, workers  # the tasks shared the study


@pytest.mark.slow  # the launcher path also runs, beside the array, in test_array_and_launcher_together_...
def test_the_readme_launcher_runs_its_trials_as_jobs(cluster, tmp_path, pg_url, processes):
    root, logs = make_tree(tmp_path / "data", n_train=12), tmp_path / "logs"
    worker = processes.start(launcher_command(root, logs, "hydra.sweeper.n_trials=4"), env=env_for(cluster, pg_url))
    assert wait_all([worker]) == [0]
    check_study(study(pg_url), 4)
    log = Path(worker.log).read_text()
    jobs = [j for line in re.findall(r"trial job\(s\) submitted: ([\d_, ]+)", log) for j in line.split(", ")]
    assert jobs, log[-2000:]  # real sbatch job ids
    SLURM_JOBS.extend(jobs)


def test_array_and_launcher_together_finish_without_a_manual_step(cluster, tmp_path, pg_url, processes):
    """Two array tasks hold both CPUs of the node; once the budget's rest runs elsewhere they end
    (hydra.sweeper.max_wait_s) so the launcher's pending jobs can run."""
    root, logs = make_tree(tmp_path / "data", n_train=12), tmp_path / "logs"
    env = env_for(cluster, pg_url)
    budget = ["hydra.sweeper.n_trials=8", "hydra.sweeper.max_wait_s=5"]
    array = array_command(root, logs, *budget).replace("--array=0-2", "--array=0-1")
    job = sbatch(cluster, array, tmp_path, env)
    worker = processes.start(launcher_command(root, logs, *budget), env=env)
    assert wait_all([worker], timeout=600) == [0]
    states = wait_jobs_done(cluster, job)
    assert all(s == "COMPLETED 0:0" for s in states.values()), states
    check_study(study(pg_url), 8)


def running_jobs(cluster) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], env=cluster.env(), capture_output=True, text=True)
    return out.stdout.split()  # array tasks as 12_0, 12_1: scancel of "12" would end them all


def wait_training(logs: Path, n: int, timeout: float = 240) -> None:
    """Until ``n`` trials are inside their fit at once, each with a pass behind it (its train.log
    has the estimate written after its first pass; dozens more follow) and none finished: a signal
    then lands inside training whatever the machine's load. (A fixed second after the logger's first file was not
    enough under the full suite: the signal could land in the feature stage, before the fit.)"""
    deadline = time.monotonic() + timeout

    def fitting() -> int:  # trials still training: a finished one (metrics.json) no longer counts, or a
        # fast task's finished trial and its next one could stand for both tasks while the other was not
        # training yet (CI saw the signal land outside any trial)
        logs_now = logs.glob(f"debug/multiruns/{STUDY}/*/train.log")
        return sum(
            "estimate:" in f.read_text(errors="replace") and not (f.parent / "metrics.json").exists() for f in logs_now
        )

    while fitting() < n:
        assert time.monotonic() < deadline, f"{n} trials never started training"
        time.sleep(0.1)


def resumed_not_redrawn(pg_url: str, n_trials: int, cause: str) -> optuna.trial.FrozenTrial:
    """The study ended as an uninterrupted one would (trials 0..n-1 COMPLETE: a trial's values
    depend only on the study seed and its number), and one trial was interrupted by ``cause``."""
    trials = check_study(study(pg_url), n_trials)
    assert {t.number for t in trials if t.state == COMPLETE} == set(range(n_trials))
    assert not [t for t in trials if t.state == FAIL], [t.user_attrs for t in trials]
    (hit,) = [t for t in trials if t.user_attrs.get("interruptions")]
    assert cause in hit.user_attrs["interruptions"][0], hit.user_attrs
    return hit


def metrics_of(trial) -> dict:
    return json.loads((Path(trial.user_attrs["output_dir"]) / "metrics.json").read_text())


def test_a_cancelled_trial_job_is_resumed_and_its_sibling_kept(cluster, tmp_path, pg_url, processes):
    root, logs = make_tree(tmp_path / "data", n_train=30), tmp_path / "logs"
    cmd = launcher_command(root, logs, "hydra.sweeper.n_trials=3", "trainer.max_epochs=60")
    worker = processes.start(cmd, env=env_for(cluster, pg_url))
    deadline, victim = time.monotonic() + 240, None
    while victim is None and time.monotonic() < deadline and worker.poll() is None:
        jobs = running_jobs(cluster)
        victim = jobs[0] if len(jobs) == 2 else None
        time.sleep(0.5)
    assert victim is not None, Path(worker.log).read_text()[-3000:]
    wait_training(logs, 2)
    subprocess.run(["scancel", victim], env=cluster.env(), check=True)
    assert wait_all([worker], timeout=600) == [0]
    hit = resumed_not_redrawn(pg_url, 3, "SIGTERM")  # scancel signals first (KillWait later, it kills)
    assert metrics_of(hit)["fit_from_epoch"] > 0  # from the checkpoint the SIGTERM saved


def test_a_preempted_array_task_hands_its_trial_on(cluster, tmp_path, pg_url):
    """SIGTERM to an array task (scancel, preemption, time limit): its trial saves a checkpoint,
    the task exits non-zero, and another task resumes the same trial from that checkpoint."""
    root, logs = make_tree(tmp_path / "data", n_train=30), tmp_path / "logs"
    # 300 passes: on a quiet machine 60 took 2 s, and a task could finish its trial between the
    # estimate line and the scancel (CI saw all three trials end untouched)
    array = array_command(root, logs, "hydra.sweeper.n_trials=3", "trainer.max_epochs=300")
    job = sbatch(cluster, array.replace("--array=0-2", "--array=0-1"), tmp_path, env_for(cluster, pg_url))
    deadline, both = time.monotonic() + 240, []
    while len(both) < 2 and time.monotonic() < deadline:
        both = running_jobs(cluster)
        time.sleep(0.5)
    assert len(both) == 2, cluster.logs()
    wait_training(logs, 2)  # both tasks inside a trial's training
    subprocess.run(["scancel", f"{job}_1"], env=cluster.env(), check=True)
    states = wait_jobs_done(cluster, job)
    assert states[f"{job}_0"] == "COMPLETED 0:0" and states[f"{job}_1"].startswith("CANCELLED"), states
    hit = resumed_not_redrawn(pg_url, 3, "stopped by SIGTERM")
    assert metrics_of(hit)["fit_from_epoch"] > 0


@pytest.mark.slow  # over a minute; a cancelled SLURM trial job's resume stays in the default suite
def test_a_killed_local_trial_job_is_resumed(tmp_path, pg_url, processes):
    """The same without SLURM: hydra/launcher=local, one submitit job SIGKILLed (no checkpoint)."""
    import psutil

    root, logs = make_tree(tmp_path / "data", n_train=30), tmp_path / "logs"
    cmd = [
        *launcher_command(root, logs, "hydra.sweeper.n_trials=3", "trainer.max_epochs=80"),
        "hydra/launcher=local",
    ]
    cmd = [a for a in cmd if not a.startswith("hydra.launcher.")]
    worker = processes.start(cmd, env={**os.environ, "DSN_SWEEP_STORAGE": pg_url, "OMP_NUM_THREADS": "1"})
    deadline, jobs = time.monotonic() + 240, []
    while len(jobs) < 2 and time.monotonic() < deadline and worker.poll() is None:
        children = psutil.Process(worker.pid).children(recursive=True)
        jobs = [p for p in children if "submitit.core._submit" in " ".join(p.cmdline())]  # the jobs themselves
        time.sleep(0.3)
    assert len(jobs) >= 2, Path(worker.log).read_text()[-3000:]
    wait_training(logs, 2)
    assert jobs[0].is_running(), "the job ended before it could be killed; make it longer"
    os.kill(jobs[0].pid, signal.SIGKILL)
    assert wait_all([worker], timeout=600) == [0]
    resumed_not_redrawn(pg_url, 3, "ended without a result")


def test_a_launch_slurm_refuses_is_one_line_and_leaves_nothing_running(cluster, tmp_path, pg_url):
    root, logs = make_tree(tmp_path / "data"), tmp_path / "logs"
    cmd = launcher_command(root, logs, "hydra.launcher.gpus_per_node=1")  # the node has no GPU
    out = subprocess.run(cmd, cwd=REPO, env=env_for(cluster, pg_url), capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "could not be submitted" in last, last
    trials = study(pg_url).get_trials()
    assert trials and not [t for t in trials if t.state == RUNNING]
    assert all("could not be submitted" in t.user_attrs.get("fail_reason", "") for t in trials if t.state == FAIL)
