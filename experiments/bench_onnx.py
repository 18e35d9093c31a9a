"""ONNX vs PyTorch: latency per image and model size, for a trained checkpoint, on this CPU.

    .venv/bin/python experiments/bench_onnx.py <run>/checkpoints/last.ckpt --views 64 4

Exports the whole scorer with ``dsn-export`` for each T, checks that both give the same scores
on real test images, and appends the timings to experiments/results/onnx.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from pathlib import Path

import numpy as np
import torch

from dsn.data.images import load_image
from dsn.deploy.edge import EdgeScorer
from dsn.export import export
from dsn.lit.checkpoints import load_module
from dsn.model.views import fixed_angles
from dsn.utils.timing import median_ms

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DSN_SHARED", REPO.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--views", type=int, nargs="+", default=[64])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workdir", default=str(REPO / "logs" / "bench_onnx"))
    args = ap.parse_args()
    module = load_module(args.checkpoint)
    files = sorted((SHARED / "data" / "mvtec_ad" / "bottle" / "test" / "broken_large").glob("*.png"))[:4]
    images = torch.stack([load_image(f, int(module.hparams.image_size)) for f in files])
    lines = []
    for t in args.views:
        onnx = Path(args.workdir) / f"model_T{t}.onnx"
        export(args.checkpoint, str(onnx), views=t)
        edge = EdgeScorer(onnx)
        arr = images.permute(0, 2, 3, 1).numpy()
        with torch.no_grad():
            ref = module.model.score(images, fixed_angles(t).expand(len(images), t)).numpy()
        got = edge.score_arrays(arr)
        rel = float(np.max(np.abs(got - ref) / np.abs(ref)))
        with torch.no_grad():
            one_view_set = fixed_angles(t).unsqueeze(0)
            torch_ms = median_ms(lambda a=one_view_set: module.model.score(images[:1], a), args.repeats)
        onnx_ms = median_ms(lambda e=edge, x=arr[:1]: e.score_arrays(x), args.repeats)
        size = onnx.stat().st_size / 2**20
        lines.append(f"| {t} | {torch_ms:.0f} | {onnx_ms:.0f} | {size:.0f} | {rel:.1e} |")
        print(lines[-1], flush=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    out = REPO / "experiments" / "results" / "onnx.md"
    with open(out, "a") as f:
        f.write(
            f"\n`python experiments/bench_onnx.py {args.checkpoint} --views {' '.join(map(str, args.views))}` — "
            f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {stamp}; "
            f"model {module.hparams.name}, "
            f"{sum(p.numel() for p in module.model.head.parameters()):,} flow parameters\n\n"
            "| T | PyTorch ms / image | ONNX Runtime ms / image | ONNX file MiB | max rel. score diff |\n"
            "| --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n"
        )


if __name__ == "__main__":
    main()
