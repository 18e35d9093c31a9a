"""Time and memory of pooled pixel AUROC and AUPRO at Magnetic Tile's size (583 test maps of
448 x 448 = 117 M pixels, 392 with a defect), on seeded random maps; each metric in a fresh
process so that its peak RSS is its own.

    .venv/bin/python experiments/bench_pixel_metrics.py [--threads 1] > experiments/results/pixel_metrics_bench.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch


def one(metric: str, threads: int) -> dict:
    from dsn.results.metrics import pixel_auroc
    from dsn.results.region_overlap import pixel_aupro

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(583, 448, 448, generator=g)
    masks = torch.zeros(583, 1, 448, 448, dtype=torch.uint8)
    for i in range(392):  # one 60 x 40 defect per defective image
        y, x = torch.randint(0, 380, (2,), generator=g).tolist()
        masks[i, 0, y : y + 60, x : x + 40] = 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.monotonic()
    value = {"pixel_auroc": pixel_auroc, "pixel_aupro": pixel_aupro}[metric](maps, masks)
    return {
        "metric": metric,
        "value": value,
        "seconds": round(time.monotonic() - start, 1),
        "rss_before_mb": round(before),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # the child process's metric
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.threads)))
        return
    rows = []
    for metric in ("pixel_auroc", "pixel_aupro"):
        cmd = [sys.executable, __file__, "--one", metric, "--threads", str(args.threads)]
        rows.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    print(json.dumps({"threads": args.threads, "torch": torch.__version__, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
