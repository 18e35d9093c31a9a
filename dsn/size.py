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
import tempfile
import time
from pathlib import Path

from dsn import CONF_DIR
from dsn.utils.tables import markdown_table

# conf/model/<name>.yaml measured by default, as they are: the flows, then the same-feature baselines
PRESETS = ("differsqueezenet", "differnet", "differlite0", "knn", "knn_alexnet", "patchcore")
# local weights file of a backbone in --weights-dir (others come from torchvision or their package)
WEIGHT_FILES = {"squeezenet1_1": "squeezenet1_1_imagenet.pth", "alexnet": "alexnet_features_imagenet.pth"}


def training_rows(hp: dict, train_images: int, bank_views: int, rows_per_view: int) -> int:
    """Rows a fitted head sees after ``train_images`` images (a bank's size, and so the model file
    and the scoring cost, depend on the training set; a trained head's do not)."""
    per_image = bank_views if hp["views"]["train_rotations"] else 1
    return train_images * per_image * rows_per_view


def measure_one(
    name: str, weights_dir: str | None, image_size: int, views: int, repeats: int, train_images: int, bank_views: int
) -> dict:
    import torch

    from dsn.config.instantiate import model_preset
    from dsn.model.detector import Detector
    from dsn.model.heads import FittedHead
    from dsn.model.views import fixed_angles
    from dsn.utils.memory import peak_memory_mb
    from dsn.utils.timing import median_ms

    hp = model_preset(name)
    image_size, views = image_size or hp["image_size"], views or hp["views"]["test_views"]
    backbone = hp["features"]["backbone"]
    file = WEIGHT_FILES.get(backbone)
    weights = str(Path(weights_dir) / file) if weights_dir and file else "imagenet"
    rss_before = peak_memory_mb()["peak_rss_mb"]
    model = Detector.from_hparams({**hp, "features": {**hp["features"], "weights": weights}}).eval()
    if isinstance(model.head, FittedHead):  # fitted on as many rows as real training data gives
        n = training_rows(hp, train_images, bank_views, model.layout.rows)
        stream = model.head.stream(n)  # keeps only what the head keeps, as in training
        for start in range(0, n, 65_536):
            stream.add(torch.randn(min(65_536, n - start), model.layout.width))
        model.head.fit(stream.rows())
    with tempfile.TemporaryDirectory() as d:
        torch.save(model.state_dict(), Path(d) / "model.pt")
        file_mb = (Path(d) / "model.pt").stat().st_size / 2**20
    image = torch.randint(0, 256, (1, 3, image_size, image_size), dtype=torch.uint8)
    angles = fixed_angles(views).unsqueeze(0)
    with torch.no_grad():
        latency = median_ms(lambda: model.score(image, angles), repeats)
    return {
        "preset": name,
        "backbone": backbone,
        **model.size(),
        "model_file_mb": round(file_mb, 1),
        "peak_rss_mb_scoring_one_image": peak_memory_mb()["peak_rss_mb"],
        "rss_mb_after_imports": rss_before,
        "test_views": views,
        "latency_ms_per_image": round(latency, 1),
    }


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
    header = [
        "preset",
        "backbone params",
        "flow params",
        "bank (rows x width)",
        "model file (MB)",
        "peak RSS scoring 1 image (MB)",
        "RSS after imports (MB)",
        "latency / image (ms)",
        "test views T",
    ]
    table = markdown_table(
        header,
        [
            [
                f"{r['preset']} ({r['backbone']})",
                f"{r['backbone_params']:,}",
                f"{r['flow_params']:,}",
                f"{r['bank_rows']:,} x {r['bank_width']}" if r["bank_rows"] else "-",
                r["model_file_mb"],
                r["peak_rss_mb_scoring_one_image"],
                r["rss_mb_after_imports"],
                r["latency_ms_per_image"],
                r["test_views"],
            ]
            for r in rows
        ],
    )
    cmdline = "dsn-size " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {__import__('torch').__version__}"
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    (out / "size.md").write_text(f"Command: `{cmdline}` — {machine} — {stamp}\n\n{table}")
    print((out / "size.md").read_text())


if __name__ == "__main__":
    main()
