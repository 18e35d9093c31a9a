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
import sys

from dsn.data.images import DEFAULT_MAX_PIXELS
from dsn.run.predicting import predict

__all__ = ["main", "predict"]


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
