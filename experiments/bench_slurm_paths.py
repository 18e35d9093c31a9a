"""Trials per hour on a real single-node SLURM (2 CPUs), for the README's two cluster paths, and
what a preempted trial costs: one debug study of 8 trials on a real PostgreSQL, run

- ``array``: ``sbatch --array=0-1`` of the README's array command (each task a worker, 1 CPU);
- ``launcher``: the README's launcher command with ``hydra.sweeper.n_jobs=2`` (each trial a job);
- ``array, one task preempted``: as ``array``, with one task cancelled (SIGTERM) 8 s into its
  first trial; its trial is resumed by the other task from the checkpoint the signal saved.

    sudo make system-deps; .venv/bin/python experiments/bench_slurm_paths.py
    -> experiments/results/slurm_paths.md

The cluster and its daemons come from tests/slurm_cluster.py (started here, ended by PID). Model:
the debug preset (random weights, 32 px) on a synthetic 30-image category, 40 passes a trial.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pgserver

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from conftest import make_tree  # noqa: E402  (the tests' synthetic MVTec tree)
from slurm_cluster import SlurmCluster  # noqa: E402

VENV_BIN = Path(sys.executable).parent
N_TRIALS, PASSES = 8, 40
STUDY = "debug_differsqueezenet_toy"


def common(root: Path, logs: Path) -> str:
    return (
        f"hparams_search=debug debug=default trainer=cpu data.root={root} data.category=toy data.image_size=32 "
        f"paths.log_dir={logs} hydra.sweeper.n_trials={N_TRIALS} trainer.max_epochs={PASSES} "
        "hydra.sweeper.heartbeat_interval=2 hydra.sweeper.grace_period=20 hydra.sweeper.max_wait_s=5"
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def wait_idle(cluster: SlurmCluster) -> None:
    while subprocess.run(["squeue", "-h"], env=cluster.env(), capture_output=True, text=True).stdout.strip():
        time.sleep(0.5)


def run(kind: str, cluster: SlurmCluster, url: str, work: Path, preempt: bool = False) -> dict:
    root = make_tree(work / "data", n_train=30)
    logs = work / "logs"
    env = {**cluster.env(), "DSN_SWEEP_STORAGE": url, "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    if kind == "array":
        wrap = f"{VENV_BIN}/dsn-train -m {common(root, logs)}"
        out = subprocess.run(
            ["sbatch", "--array=0-1", "--cpus-per-task=1", "--mem=1G", "--wrap", wrap],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        job = out.stdout.split()[-1]
        if preempt:
            while (
                f"{job}_1"
                not in subprocess.run(
                    ["squeue", "-h", "-t", "R", "-o", "%i"], env=env, capture_output=True, text=True
                ).stdout.split()
            ):
                time.sleep(0.2)
            time.sleep(8)
            subprocess.run(["scancel", f"{job}_1"], env=env, check=True)
        wait_idle(cluster)
    else:
        cmd = [f"{VENV_BIN}/dsn-train", "-m", *common(root, logs).split(), "hydra/launcher=slurm"]
        cmd += ["hydra.sweeper.n_jobs=2", "hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1"]
        cmd += ["hydra.launcher.mem_gb=1"]
        subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=True)
    wall = time.monotonic() - start
    study = optuna.load_study(study_name=STUDY, storage=url.replace("postgresql://", "postgresql+psycopg://"))
    trials = study.get_trials()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    hit = [t for t in trials if t.user_attrs.get("interruptions")]
    return {
        "path": kind + (", one task preempted" if preempt else ""),
        "complete": len(done),
        "failed": len(trials) - len(done),
        "numbers": sorted(t.number for t in done) == list(range(N_TRIALS)),
        "wall_s": wall,
        "trials_per_hour": 3600 * len(done) / wall,
        "resumed_trial": (hit[0].number if hit else None),
        "failures": [t.user_attrs.get("fail_reason") for t in trials if t.state == optuna.trial.TrialState.FAIL],
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        cluster = SlurmCluster(tmp / "slurm").start()
        try:
            for i, (kind, preempt) in enumerate([("array", False), ("launcher", False), ("array", True)]):
                db = f"bench{i}"
                server.psql(f"CREATE DATABASE {db};")
                url = server.get_uri(db).replace("postgres:@", "postgres@")
                rows.append(run(kind, cluster, url, tmp / f"run{i}", preempt))
                print(rows[-1], flush=True)
        finally:
            cluster.stop()
            server.cleanup()
    base = next(r for r in rows if r["path"] == "array")
    lines = [
        f"Command: `.venv/bin/python experiments/bench_slurm_paths.py` — {platform.node()}, "
        f"{cpu_model()}, 2 CPUs, SLURM 22.05 single node — "
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Debug study, {N_TRIALS} trials of {PASSES} passes on a real PostgreSQL; 2 trials at a time (2 CPUs).",
        "",
        "| path | COMPLETE | not COMPLETE | trials 0..n-1 (same points as uninterrupted) | wall s | trials per hour |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['complete']} | {r['failed']} | {'yes' if r['numbers'] else 'no'} | "
            f"{r['wall_s']:.0f} | {r['trials_per_hour']:.0f} |"
        )
    pre = rows[-1]
    lines += [
        "",
        f"The preempted study took {pre['wall_s'] - base['wall_s']:+.0f} s against the uninterrupted array "
        f"(trial {pre['resumed_trial']} resumed from its SIGTERM checkpoint by the other task).",
    ]
    out = REPO / "experiments" / "results" / "slurm_paths.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
