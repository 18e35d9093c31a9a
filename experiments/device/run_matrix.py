"""Run a matrix of dsn-train jobs side by side on one machine (the lent GPU), then pack results.

Each job is an ordinary ``python -m dsn.train`` with Hydra overrides, in its own process and run
directory; ``--parallel`` of them run at once (the GPU has room for many of these small flows).
Checkpoints are not kept (no room to bring 1.8 GB files back); metrics.json, figures, the CSV
logs and each job's console log are packed into ``$OUT/<set>.tar.gz``.

    python experiments/device/run_matrix.py bottle --parallel 8
    python experiments/device/run_matrix.py bottle --smoke     # tiny versions of the same jobs, on CPU
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".devcache"
SEEDS = (0, 1, 2)

SMOKE = [
    "trainer.max_epochs=2",
    "trainer.check_val_every_n_epoch=1",
    "model.head.hidden=32",
    "model.head.n_blocks=2",
    "model.views.test_views=4",
    "feature_cache.bank_views=4",
    "figures.map_rotations=2",
    "figures.pixel_auroc=false",
    "trainer.accelerator=cpu",
    "data.batch_size=64",
    "data.image_size=224",
]


def jobs(category: str) -> dict[str, list[str]]:
    """name -> overrides. Paper presets on both models; for DifferSqueezeNet also the plain
    (uncached) path, bf16 mixed precision and a smaller training bank, for the speed issue."""
    root = CACHE / "data"
    w = {
        "differsqueezenet": CACHE / "weights" / "squeezenet1_1_imagenet.pth",
        "differnet": CACHE / "weights" / "alexnet_features_imagenet.pth",
    }
    common = [
        f"data.root={root}",
        f"data.category={category}",
        "logger=csv",
        "trainer.enable_progress_bar=false",
        "~callbacks.model_checkpoint",
        "model.features.chunk=256",
        "feature_cache.batch_images=16",
        "feature_cache.dir=null",
        "data.cache_dir=null",
    ]
    # the plain (uncached) path is the slowest: it goes first
    out: dict[str, list[str]] = {
        f"plain_s{seed}": [
            "experiment=differsqueezenet_paper",
            "figures.enabled=false",
            f"model.features.weights={w['differsqueezenet']}",
            f"seed={seed}",
            "feature_cache.train=false",
        ]
        for seed in SEEDS
    }
    for seed in SEEDS:
        for model in ("differsqueezenet", "differnet"):
            if w[model].is_file():
                out[f"{model}_paper_s{seed}"] = [
                    f"experiment={model}_paper",
                    f"model.features.weights={w[model]}",
                    f"seed={seed}",
                ]
        sq = [
            "experiment=differsqueezenet_paper",
            f"model.features.weights={w['differsqueezenet']}",
            f"seed={seed}",
            "figures.enabled=false",
        ]
        out[f"bf16_s{seed}"] = sq + ["trainer.precision=bf16-mixed"]
        out[f"bank16_s{seed}"] = sq + ["feature_cache.bank_views=16"]
    return {k: common + v for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("category")
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated job-name prefixes")
    ap.add_argument("--deadline-s", type=float, default=1e9, help="stop unfinished jobs after this long")
    ap.add_argument("--out", default=os.environ.get("OUT", str(REPO / "logs" / "device")))
    args = ap.parse_args()
    runs = REPO / "logs" / "device" / args.category
    todo = jobs(args.category)
    if args.only:
        todo = {k: v for k, v in todo.items() if k.startswith(tuple(args.only.split(",")))}
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}:{os.environ.get('PYTHONPATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "2",
        "WANDB_MODE": "offline",
    }
    pending, running, start = list(todo.items()), [], time.monotonic()
    while pending or running:
        if time.monotonic() - start > args.deadline_s:
            for name, proc, _log in running:
                proc.kill()
                print(f"deadline: killed {name}", flush=True)
            break
        while pending and len(running) < args.parallel:
            name, ov = pending.pop(0)
            d = runs / name
            d.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "dsn.train", *ov, *(SMOKE if args.smoke else []), f"hydra.run.dir={d}"]
            (d / "command.txt").write_text(" ".join(cmd) + "\n")
            log = open(d / "console.log", "w")
            running.append((name, subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        for item in list(running):
            name, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                print(f"[{time.monotonic() - start:6.0f}s] {name}: exit {proc.returncode}", flush=True)
                pack(runs, Path(args.out) / f"{args.category}.tar.gz")  # partial results survive a timeout
        time.sleep(1)
    tar = pack(runs, Path(args.out) / f"{args.category}.tar.gz")
    print(f"packed {tar} ({tar.stat().st_size / 2**20:.1f} MiB) in {time.monotonic() - start:.0f}s")


def pack(runs: Path, tar: Path) -> Path:
    tar.parent.mkdir(parents=True, exist_ok=True)
    tmp = tar.with_suffix(".part")
    with tarfile.open(tmp, "w:gz") as tf:
        for f in sorted(runs.rglob("*")):
            if f.is_file() and f.suffix != ".ckpt":
                tf.add(f, arcname=str(f.relative_to(runs.parent)))
    os.replace(tmp, tar)
    return tar


if __name__ == "__main__":
    main()
