"""Scoring with an exported ONNX model: onnxruntime, numpy and Pillow only (no torch), for
edge devices. Pixels are read exactly as in training (:mod:`dsn.utils.image_files`).

    python -m dsn.deploy.edge model.onnx images/ more/*.png one.png [--max-pixels N] [--batch N] > scores.csv

Inputs are files, folders (searched recursively) or glob patterns, as for ``dsn-predict``, and the
output is ``dsn-predict``'s CSV (header ``path,score,normalized_score,verdict,error``) on stdout:
one row per image, in the order given; an input that cannot be used gets the verdict ``error`` and
its reason, and the others are still scored (exit status 2). Images are read and scored
``--batch`` at a time and each row is printed as soon as its batch is done: memory does not grow
with the number of inputs, and a crash keeps the rows already out.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dsn.utils.image_files import DEFAULT_MAX_PIXELS, ImageError, read_rgb
from dsn.utils.image_inputs import COLUMNS, error_row, expand_inputs, score_row


class EdgeScorer:
    def __init__(self, onnx_path: str | Path, threads: int = 0):
        onnx_path = Path(onnx_path)
        meta = json.loads(onnx_path.with_suffix(".json").read_text())
        self.size, self.views = int(meta["image_size"]), int(meta["views"])
        decision = meta["decision"]
        self.threshold = float(decision["threshold"])
        self.low, self.high = float(decision["low"]), float(decision["high"])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def score_arrays(self, images: np.ndarray) -> np.ndarray:
        """uint8 [B, S, S, 3] -> scores [B]."""
        return self.session.run(["scores"], {"images": np.ascontiguousarray(images.transpose(0, 3, 1, 2))})[0]

    def score_stream(
        self, paths: list[str | Path], max_pixels: int = DEFAULT_MAX_PIXELS, batch: int = 16
    ) -> Iterator[float | ImageError]:
        """A score per path, or the ImageError that says why that file cannot be scored, in order;
        at most ``batch`` decoded images are held at a time."""
        for start in range(0, len(paths), batch):
            chunk = paths[start : start + batch]
            pixels: dict[int, np.ndarray] = {}
            out: dict[int, float | ImageError] = {}
            for i, p in enumerate(chunk):
                try:
                    pixels[i] = read_rgb(p, self.size, max_pixels)
                except ImageError as err:
                    out[i] = err
            if pixels:
                for i, s in zip(pixels, self.score_arrays(np.stack(list(pixels.values())))):
                    out[i] = float(s)
            yield from (out[i] for i in range(len(chunk)))

    def score_files(self, paths: list[str | Path], max_pixels: int = DEFAULT_MAX_PIXELS) -> list[float | ImageError]:
        return list(self.score_stream(paths, max_pixels))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the .onnx file written by dsn-export (its .json beside it)")
    ap.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    ap.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="larger images are refused from their header, before decoding",
    )
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    ap.add_argument("--batch", type=int, default=16, help="images read and scored at a time (bounds memory)")
    args = ap.parse_args(argv)
    scorer = EdgeScorer(args.model, args.threads)
    items = expand_inputs(args.inputs)
    paths = [item.path for item in items if not item.error]
    scores = scorer.score_stream(paths, args.max_pixels, max(1, args.batch))
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    errors = 0
    for item in items:
        result = ImageError(item.error) if item.error else next(scores)
        if isinstance(result, ImageError):
            errors += 1
            writer.writerow(error_row(item.path, str(result)))
        else:
            writer.writerow(score_row(item.path, result, scorer.threshold, scorer.low, scorer.high))
        sys.stdout.flush()  # each row out as soon as it is known
    if errors:
        sys.exit(2)


if __name__ == "__main__":
    main()
