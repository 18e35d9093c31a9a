"""Speed benchmark of dsn's fast path against its plain path, on this machine's CPU.

One command runs everything and writes experiments/results/speed_runs.md and speed.csv:

    .venv/bin/python experiments/bench_speed.py            # about 40 minutes on a 2-core CPU

Sections (each a set of ordinary ``dsn.train`` runs in subprocesses, caches cold):
 1. throughput: samples/s of the training loop and wall time of 2 passes, plain path (fresh
    rotations through the backbone every step, fp32) vs fast path (cached feature bank of 16
    views, bf16 autocast flow), DifferSqueezeNet, on bottle and magnetic_tile;
 2. paper schedule (192 passes) with the fast path on bottle: wall time, peak memory, AUROC;
 3. inference latency per image for T = 1..64 test rotations, with the AUROC at each T
    (the fixed rotations for T are a subset of those for 64, so one feature pass gives all);
 4. plain vs fast AUROC on the same seed, on a shortened schedule the plain path can afford here
    (a 512-wide, 4-block flow, ``--agree-epochs`` passes, 8 test rotations).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DSN_SHARED", REPO.parent / "shared"))  # the project's data and weights
ROOTS = {"bottle": SHARED / "data" / "mvtec_ad", "magnetic_tile": SHARED / "data"}
WEIGHTS = SHARED / "weights" / "squeezenet1_1_imagenet.pth"
OUT = REPO / "experiments" / "results"
RUNS = REPO / "logs" / "bench_speed"
PLAIN = ["feature_cache.train=false", "trainer=cpu"]
FAST = ["feature_cache.train=true", "feature_cache.bank_views=16", "trainer=cpu_fast"]
COLUMNS = [
    "section",
    "category",
    "path",
    "epochs",
    "T",
    "samples_per_s",
    "fit_s_2_passes",
    "fit_s",
    "cache_s",
    "wall_s",
    "peak_rss_mb",
    "auroc",
    "ms_per_image",
    "command",
]
SHORT = ["model.head.hidden=512", "model.head.n_blocks=4", "model.views.test_views=8"]


def train(name: str, category: str, overrides: list[str]) -> dict:
    run = RUNS / name
    cmd = [
        sys.executable,
        "-m",
        "dsn.train",
        f"data.root={ROOTS[category]}",
        f"data.category={category}",
        f"model.features.weights={WEIGHTS}",
        "logger=csv",
        "trainer.enable_progress_bar=false",
        "feature_cache.dir=null",
        "data.cache_dir=null",
        "figures.enabled=false",
        f"hydra.run.dir={run}",
        "resume=false",
        *overrides,
    ]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, stdout=open(RUNS / f"{name}.log", "w"), stderr=subprocess.STDOUT)
    m = json.loads((run / "metrics.json").read_text())
    m["command"] = "python " + " ".join(cmd[1:])
    return m


def latency_rows(ckpt: Path, category: str, ts=(1, 4, 8, 16, 32, 64), repeats: int = 5) -> list[dict]:
    from dsn.data import MVTecDataset
    from dsn.lit.checkpoints import load_module
    from dsn.model.stack_features import embed_stack
    from dsn.model.views import fixed_angles
    from dsn.results.metrics import image_auroc

    module = load_module(ckpt)
    model = module.model
    test = MVTecDataset(ROOTS[category], category, "test", image_size=448)
    angles = fixed_angles(64).expand(len(test), 64)
    feats = embed_stack(model, test.images, angles, device="cpu", batch_images=4, jitter=None, progress=None)
    rows = []
    for t in ts:
        sub = feats[:, :: 64 // t]  # the rotations k*360/t
        with torch.no_grad():
            auroc = image_auroc(model.score_features(sub), test.labels)
            img, angles = test.images[:1], fixed_angles(t).unsqueeze(0)
            model.score(img, angles)  # warm-up
            times = []
            for i in range(repeats):
                start = time.perf_counter()
                model.score(test.images[i : i + 1], angles)
                times.append(time.perf_counter() - start)
        rows.append(
            {
                "section": "latency",
                "category": category,
                "T": t,
                "ms_per_image": round(1000 * sorted(times)[len(times) // 2], 1),
                "auroc": round(100 * auroc, 2),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sections", default="1,2,3,4")
    ap.add_argument("--agree-epochs", type=int, default=16)
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    RUNS.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    if "1" in sections:
        for cat in ("bottle", "magnetic_tile"):
            for path, ov in (("plain", PLAIN), ("fast", FAST)):
                m = train(
                    f"throughput_{cat}_{path}",
                    cat,
                    ov + ["trainer.max_epochs=2", "model.views.test_views=1", "trainer.check_val_every_n_epoch=1000"],
                )
                rows.append(
                    {
                        "section": "throughput",
                        "category": cat,
                        "path": path,
                        "samples_per_s": m["train_samples_per_s"],
                        "fit_s_2_passes": m["fit_time_s"],
                        "cache_s": m["cache_time_s"],
                        "peak_rss_mb": m["peak_rss_mb"],
                        "command": m["command"],
                    }
                )
                emit(rows[-1])
    if "2" in sections:
        m = train("paper_fast_bottle", "bottle", FAST)
        rows.append(
            {
                "section": "paper_schedule",
                "category": "bottle",
                "path": "fast",
                "auroc": round(100 * m["auroc"], 2),
                "wall_s": m["wall_time_s"],
                "cache_s": m["cache_time_s"],
                "fit_s": m["fit_time_s"],
                "peak_rss_mb": m["peak_rss_mb"],
                "command": m["command"],
            }
        )
        emit(rows[-1])
    if "3" in sections:
        for row in latency_rows(RUNS / "paper_fast_bottle" / "checkpoints" / "last.ckpt", "bottle"):
            emit(row)
    if "4" in sections:
        for path, ov in (("plain", PLAIN), ("fast", FAST)):
            m = train(f"agree_bottle_{path}", "bottle", ov + SHORT + [f"trainer.max_epochs={args.agree_epochs}"])
            rows.append(
                {
                    "section": "agreement",
                    "category": "bottle",
                    "path": path,
                    "epochs": args.agree_epochs,
                    "auroc": round(100 * m["auroc"], 2),
                    "wall_s": m["wall_time_s"],
                    "command": m["command"],
                }
            )
            emit(rows[-1])


def emit(row: dict) -> None:
    """Print a measured row and append it to the results at once (a later failure loses nothing)."""
    print(row, flush=True)
    write([row])


def write(rows: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    with open(OUT / "speed.csv", "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["date", "machine", *COLUMNS])
        if f.tell() == 0:
            w.writeheader()
        for r in rows:
            w.writerow({"date": stamp, "machine": machine, **r})
    with open(OUT / "speed_runs.md", "a") as f:
        f.write(f"\n## {stamp} — {machine}\n\n")
        for r in rows:
            f.write(
                "- "
                + ", ".join(f"{k}={v}" for k, v in r.items() if k != "command")
                + (f"\n  `{r['command']}`" if "command" in r else "")
                + "\n"
            )


if __name__ == "__main__":
    main()
