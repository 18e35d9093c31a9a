"""Scoring with an exported ONNX model: onnxruntime, numpy and Pillow only (no torch), for
edge devices. Pixels are read exactly as in training (:mod:`dsn.imageio`).

    python -m dsn.edge model.onnx image1.png image2.png
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dsn.imageio import read_rgb


class EdgeScorer:
    def __init__(self, onnx_path: str | Path, threads: int = 0):
        onnx_path = Path(onnx_path)
        meta = json.loads(onnx_path.with_suffix(".json").read_text())
        self.size, self.views = int(meta["image_size"]), int(meta["views"])
        self.threshold = float(meta["threshold"][0])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def score_arrays(self, images: np.ndarray) -> np.ndarray:
        """uint8 [B, S, S, 3] -> scores [B]."""
        return self.session.run(["scores"], {"images": np.ascontiguousarray(images.transpose(0, 3, 1, 2))})[0]

    def score_files(self, paths: list[str | Path]) -> np.ndarray:
        return self.score_arrays(np.stack([read_rgb(p, self.size) for p in paths]))

    def verdicts(self, scores: np.ndarray) -> list[str]:
        if math.isnan(self.threshold):
            return ["no-threshold"] * len(scores)
        return ["defective" if s >= self.threshold else "good" for s in scores]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    scorer = EdgeScorer(argv[0])
    scores = scorer.score_files(argv[1:])
    for p, s, v in zip(argv[1:], scores, scorer.verdicts(scores)):
        print(f"{p}\t{s:.6f}\t{v}")


if __name__ == "__main__":
    main()
