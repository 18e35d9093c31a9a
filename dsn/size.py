"""``dsn-size``: the paper's Table 3, measured: parameters (backbone, flow), model file size,
peak memory while scoring one image and latency per image at the default T, per preset.

Each preset is measured in a fresh process (peak memory is a per-process figure).

    dsn-size --weights-dir ../shared/weights --out experiments/results/size     # offline
    dsn-size                                                                     # downloads weights
    dsn-size --presets squeezenet_full_1scale patchcore --views 8 ...            # any conf/model presets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from dsn import CONF_DIR
from dsn.run.model_size import measure_one, size_table

# conf/model/<name>.yaml measured by default, as they are: the flows, then the same-feature baselines
PRESETS = ("differsqueezenet", "differnet", "differlite0", "knn", "knn_alexnet", "patchcore")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights-dir", default=None, help="folder with local weight files (else download)")
    ap.add_argument("--image-size", type=int, default=0, help="default: the preset's data.image_size")
    ap.add_argument("--views", type=int, default=0, help="test rotations T; default: model.views.test_views")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-images", type=int, default=209, help="baselines' bank: training images (bottle: 209)")
    ap.add_argument(
        "--bank-views", type=int, default=64, help="baselines' bank: views per image (feature_cache.bank_views)"
    )
    ap.add_argument("--out", default="logs/size")
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), help="conf/model presets to measure")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(
            json.dumps(
                measure_one(
                    args.one,
                    args.weights_dir,
                    args.image_size,
                    args.views,
                    args.repeats,
                    args.train_images,
                    args.bank_views,
                )
            )
        )
        return
    known = sorted(p.stem for p in Path(CONF_DIR, "model").glob("*.yaml"))
    unknown = [name for name in args.presets if name not in known]
    if unknown:  # before any preset is measured (each takes a process and seconds to minutes)
        ap.error(f"--presets {' '.join(unknown)}: no such preset in conf/model/; choose from {', '.join(known)}")
    rows = []
    for name in args.presets:
        cmd = [
            sys.executable,
            "-m",
            "dsn.size",
            "--one",
            name,
            "--image-size",
            str(args.image_size),
            "--views",
            str(args.views),
            "--repeats",
            str(args.repeats),
            "--train-images",
            str(args.train_images),
            "--bank-views",
            str(args.bank_views),
        ]
        if args.weights_dir:
            cmd += ["--weights-dir", args.weights_dir]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "size.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = size_table(rows)
    cmdline = "dsn-size " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {__import__('torch').__version__}"
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    (out / "size.md").write_text(f"Command: `{cmdline}` — {machine} — {stamp}\n\n{table}")
    print((out / "size.md").read_text())


if __name__ == "__main__":
    main()
