"""``dsn-predict``: a trained checkpoint + images -> CSV of (path, score, normalised score, verdict),
optionally a gradient heat map PNG per image.

    dsn-predict logs/train/runs/<run>/checkpoints/last.ckpt new_images/ more/*.png --out predictions.csv --heatmaps maps/

Inputs may be files, folders (searched recursively for images) or glob patterns. A file that
cannot be read gets the verdict ``error`` and its reason; the others are still scored. The
verdict needs a threshold stored at training time (``data.val_fraction > 0``); without one it is
``no-threshold`` and only the scores are given.
"""

from __future__ import annotations

import argparse
import csv
import glob
import math
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from dsn.checkpoints import load_module
from dsn.data.images import ImageError, is_image_file, load_image
from dsn.model.gradient_maps import gradient_map
from dsn.model.views import fixed_angles
from dsn.threshold import normalize


def expand_inputs(inputs: list[str]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(f for f in p.rglob("*") if is_image_file(f))
        elif p.exists():
            paths.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no file, folder or glob match for '{item}'")
            paths += [m for m in matches if m.is_file()]
    if not paths:
        raise FileNotFoundError(f"no images found in {inputs}")
    return paths


def verdict(score: float, threshold: float) -> str:
    if math.isnan(threshold):
        return "no-threshold"
    return "defective" if score >= threshold else "good"


def predict(ckpt: str, inputs: list[str], out: str, heatmaps: str | None = None, views: int | None = None,
            batch: int = 8, device: str = "auto") -> list[dict]:
    module = load_module(ckpt)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    model = module.model.to(dev).eval()
    size = int(module.hparams.image_size)
    t = views or module.hparams.test_views
    angles = fixed_angles(t).to(dev)
    stats = tuple(float(x) for x in module.decision)
    paths = expand_inputs(inputs)
    rows: list[dict] = []
    for start in tqdm(range(0, len(paths), batch), desc="scoring", unit="batch", disable=len(paths) <= batch):
        chunk, images = paths[start:start + batch], []
        for p in chunk:
            try:
                images.append((p, load_image(p, size)))
            except ImageError as err:
                rows.append({"path": str(p), "score": "", "normalized_score": "", "verdict": "error", "error": str(err)})
        if not images:
            continue
        stack = torch.stack([im for _, im in images]).to(dev)
        with torch.no_grad():
            scores = model.score(stack, angles.expand(len(images), t)).double().cpu()
        norm = normalize(scores, stats)
        for (p, im), s, n in zip(images, scores, norm):
            rows.append({"path": str(p), "score": round(float(s), 6),
                         "normalized_score": "" if math.isnan(n) else round(float(n), 4),
                         "verdict": verdict(float(s), stats[0]), "error": ""})
            if heatmaps:
                _heatmap_png(model, im, Path(heatmaps) / f"{p.parent.name}_{p.stem}_heatmap.png", t)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "score", "normalized_score", "verdict", "error"])
        w.writeheader()
        w.writerows(rows)
    return rows


def _heatmap_png(model, image: torch.Tensor, path: Path, views: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = gradient_map(model, image, n_rotations=views).cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image.permute(1, 2, 0).cpu().numpy())
    ax.imshow(m, cmap="jet", alpha=0.5, vmin=0, vmax=1)
    ax.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    ap.add_argument("--out", default="predictions.csv")
    ap.add_argument("--heatmaps", default=None, help="folder for one gradient heat map PNG per image")
    ap.add_argument("--views", type=int, default=None, help="test rotations per image (default: the checkpoint's)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    rows = predict(args.checkpoint, args.inputs, args.out, args.heatmaps, args.views, args.batch, args.device)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(f"{len(rows)} images -> {args.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if counts.get("error"):
        sys.exit(2)


if __name__ == "__main__":
    main()
