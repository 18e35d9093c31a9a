"""Sweep-worker scaling: one 16-trial debug sweep on a real PostgreSQL study with 1, 2 and 4
workers (the same ``dsn-train -m`` command started W times), timed from the first start to the
last exit. Also counts what a user would worry about: trials COMPLETE (must be 16), FAILED or
dropped as surplus, and trials that drew the same values.

    .venv/bin/python experiments/bench_sweep_workers.py [--workers 1 2 4] [--trials 16]
    -> experiments/results/sweep_scaling.csv and .md

Data: MVTec AD ``bottle`` from ../shared (decoded images cached on disk by a warm-up trial
first, so every setting starts warm), debug model (random weights, 64 px, 2 epochs).
Needs pgserver (installed by ``make install``). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pgserver

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "mvtec_ad"
OUT = REPO / "experiments" / "results"


def worker_cmd(url: str, study: str, n_trials: int, logs: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dsn.train",
        "-m",
        "hparams_search=debug",
        "debug=default",
        f"data.root={DATA}",
        "data.category=bottle",
        f"paths.log_dir={logs}",
        f"paths.cache_dir={logs}/cache",
        f"hydra.sweeper.storage='{url}'",
        f"hydra.sweeper.study_name={study}",
        f"hydra.sweeper.n_trials={n_trials}",
    ]


def run_workers(url: str, study: str, n_trials: int, n_workers: int, logs: Path) -> dict:
    start = time.monotonic()
    procs = []
    try:
        for i in range(n_workers):
            with open(logs / f"{study}_worker{i}.log", "w") as out:
                procs.append(
                    subprocess.Popen(
                        worker_cmd(url, study, n_trials, logs),
                        cwd=REPO,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:  # end every worker by its process group, also on an interrupt
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wall = time.monotonic() - start
    trials = optuna.load_study(study_name=study, storage=url.replace("postgresql://", "postgresql+psycopg://")).trials
    drawn = [tuple(sorted(t.params.items())) for t in trials if t.params]
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    return {
        "workers": n_workers,
        "wall_s": round(wall, 1),
        "complete": n_complete,
        "failed_or_surplus": sum(t.state == optuna.trial.TrialState.FAIL for t in trials),
        "same_values": len(drawn) - len(set(drawn)),
        "exit_codes": " ".join(map(str, codes)),
        "trials_per_min": round(n_complete / wall * 60, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[0, 1],
        help="OMP_NUM_THREADS (torch threads) of each worker, one setting after the other; "
        "0: torch's default (all cores)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            url, logs = server.get_uri(), Path(tmp) / "logs"
            logs.mkdir()
            run_workers(url, "warmup", 1, 1, logs)  # decodes and caches the images once
            rows = []
            for threads in args.threads:
                if threads:
                    os.environ["OMP_NUM_THREADS"] = str(threads)
                else:
                    os.environ.pop("OMP_NUM_THREADS", None)
                part = [
                    {
                        "threads_per_worker": threads or "default",
                        **run_workers(url, f"scale_t{threads}_w{w}", args.trials, w, logs),
                    }
                    for w in args.workers
                ]
                for r in part:
                    r["speedup_vs_first"] = round(part[0]["wall_s"] / r["wall_s"], 2)
                rows += part
        finally:
            server.cleanup()
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "sweep_scaling.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cmd = "python experiments/bench_sweep_workers.py " + " ".join(sys.argv[1:])
    lines = [
        f"# Sweep-worker scaling ({args.trials}-trial debug sweep, one PostgreSQL study)",
        "",
        f"Command: `{cmd.strip()}`; machine: {platform.node()}, {os.cpu_count()} CPU cores, no GPU; "
        f"date: {dt.date.today()}.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + " --- |" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
    (OUT / "sweep_scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
