"""Scoring with an exported ONNX model: onnxruntime, numpy and Pillow only (no torch), for
edge devices. Pixels are read exactly as in training (:mod:`dsn.utils.image_files`).

    python -m dsn.deploy.edge model.onnx image1.png image2.png [--max-pixels N]

Prints one tab-separated line per image, in the order given: path, score, verdict; an image that
cannot be used prints ``path, -, error, reason`` and the others are still scored (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dsn.utils.image_files import DEFAULT_MAX_PIXELS, ImageError, read_rgb
from dsn.utils.verdict import verdict


class EdgeScorer:
    def __init__(self, onnx_path: str | Path, threads: int = 0):
        onnx_path = Path(onnx_path)
        meta = json.loads(onnx_path.with_suffix(".json").read_text())
        self.size, self.views = int(meta["image_size"]), int(meta["views"])
        self.threshold = float(meta["decision"]["threshold"])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def score_arrays(self, images: np.ndarray) -> np.ndarray:
        """uint8 [B, S, S, 3] -> scores [B]."""
        return self.session.run(["scores"], {"images": np.ascontiguousarray(images.transpose(0, 3, 1, 2))})[0]

    def score_files(self, paths: list[str | Path], max_pixels: int = DEFAULT_MAX_PIXELS) -> list[float | ImageError]:
        """A score per path, or the ImageError that says why that file cannot be scored."""
        pixels: dict[int, np.ndarray] = {}
        out: list[float | ImageError] = []
        for i, p in enumerate(paths):
            try:
                pixels[i] = read_rgb(p, self.size, max_pixels)
                out.append(math.nan)
            except ImageError as err:
                out.append(err)
        if pixels:
            for i, s in zip(pixels, self.score_arrays(np.stack(list(pixels.values())))):
                out[i] = float(s)
        return out

    def verdicts(self, scores: np.ndarray) -> list[str]:
        return [verdict(float(s), self.threshold) for s in scores]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the .onnx file written by dsn-export (its .json beside it)")
    ap.add_argument("images", nargs="+", help="image files")
    ap.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="larger images are refused from their header, before decoding",
    )
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: its default)")
    args = ap.parse_args(argv)
    scorer = EdgeScorer(args.model, args.threads)
    results = scorer.score_files(args.images, args.max_pixels)
    ok = [r for r in results if not isinstance(r, ImageError)]
    verdicts = iter(scorer.verdicts(np.array(ok)))
    for p, r in zip(args.images, results):
        print(f"{p}\t-\terror\t{r}" if isinstance(r, ImageError) else f"{p}\t{r:.6f}\t{next(verdicts)}")
    if len(ok) < len(results):
        sys.exit(2)


if __name__ == "__main__":
    main()
