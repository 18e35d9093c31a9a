"""``dsn-predict``: a trained checkpoint + images -> CSV of (path, score, normalised score, verdict),
optionally a gradient heat map PNG per image.

    dsn-predict <run>/checkpoints/last.ckpt new_images/ more/*.png --out predictions.csv --heatmaps maps/

Inputs may be files, folders (searched recursively for images) or glob patterns. Every input
gives at least one row, in the order given: an unreadable or oversized image, a file that is not
an image, a broken link, an empty folder or a pattern that matches nothing gets the verdict
``error`` and its reason, and the rest are still scored. Exit status 2 when any row is an error. The
verdict needs a threshold stored at training time (``data.val_fraction > 0``); without one it is
``no-threshold`` and only the scores are given. Rows are written to the CSV as each batch is
scored, so a crash half-way keeps the rows already done.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from dsn.data.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from dsn.lit.checkpoints import load_module, require_squashed_inputs
from dsn.model.views import fixed_angles
from dsn.results.plots import heat_map_png
from dsn.utils.image_inputs import COLUMNS, Item, error_row, expand_inputs, score_row


def heatmap_name(path: str) -> str:
    """A heat-map file name from the input path: readable, and unique per path (same-named files
    in different folders do not overwrite each other)."""
    p = Path(path)
    digest = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]
    return f"{p.parent.name}_{p.stem}_{digest}_heatmap.png"


def predict(
    ckpt: str,
    inputs: list[str],
    out: str,
    heatmaps: str | None = None,
    views: int | None = None,
    batch: int = 8,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[dict]:
    """Score every input; one row per image or unusable input, in input order, written to ``out``."""
    module = load_module(ckpt)
    require_squashed_inputs(module, ckpt, "dsn-predict")
    dev = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    model = module.model.to(dev).eval()
    size = int(module.hparams.image_size)
    t = views or module.views.test_views
    angles = fixed_angles(t).to(dev)
    decision = module.stored_decision
    items = expand_inputs(inputs)
    scoring = Scoring(model, size, t, angles, decision, heatmaps, max_pixels, dev)
    rows: list[dict] = []
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for start in tqdm(range(0, len(items), batch), desc="scoring", unit="batch", disable=len(items) <= batch):
            done = scoring.rows(items[start : start + batch])
            writer.writerows(done)
            f.flush()  # a crash later keeps these rows
            rows += done
    return rows


@dataclass(frozen=True)
class Scoring:
    """How one checkpoint scores a batch of inputs into rows."""

    model: torch.nn.Module
    size: int
    views: int
    angles: torch.Tensor
    decision: object
    heatmaps: str | None
    max_pixels: int
    device: torch.device

    def rows(self, chunk: list[Item]) -> list[dict]:
        """The rows of one batch of inputs, in order."""
        chunk = list(chunk)
        images: dict[int, torch.Tensor] = {}
        for i, item in enumerate(chunk):
            if not item.error:
                try:
                    images[i] = load_image(item.path, self.size, self.max_pixels)
                except ImageError as err:
                    chunk[i] = Item(item.path, str(err))
        scored = {}
        if images:
            batch = torch.stack(list(images.values())).to(self.device)
            with torch.no_grad():
                scores = self.model.score(batch, self.angles.expand(len(images), self.views))
            scored = dict(zip(images, scores.double().cpu()))
        rows = []
        for i, item in enumerate(chunk):
            if i not in scored:
                rows.append(error_row(item.path, item.error))
                continue
            d = self.decision
            row = score_row(item.path, float(scored[i]), d.threshold, d.low, d.high)
            rows.append(row)
            if self.heatmaps:
                heat = self.model.anomaly_map(images[i], n_rotations=self.views)
                norm = "" if row["normalized_score"] == "" else f", normalised {row['normalized_score']}"
                title = f"score {row['score']:.4g}{norm}: {row['verdict']}"
                heat_map_png(images[i], heat, Path(self.heatmaps) / heatmap_name(item.path), title)
        return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    ap.add_argument("--out", default="predictions.csv")
    ap.add_argument("--heatmaps", default=None, help="folder for one gradient heat map PNG per image")
    ap.add_argument("--views", type=int, default=None, help="test rotations per image (default: the checkpoint's)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="larger images get an error row, from their header, before decoding",
    )
    args = ap.parse_args(argv)
    rows = predict(
        args.checkpoint, args.inputs, args.out, args.heatmaps, args.views, args.batch, args.device, args.max_pixels
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(f"{len(rows)} images -> {args.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if counts.get("error"):
        sys.exit(2)


if __name__ == "__main__":
    main()
