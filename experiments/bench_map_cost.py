"""What the figures stage of a paper-preset run costs: seconds per gradient map (the paper's
DifferSqueezeNet, 448 px, on real bottle test images) at 8 and at 64 rotations, and so the stage
for every test image (pixel AUROC) against a run's training. The map's cost does not depend on the
flow's trained weights, so the flow here is freshly initialised.

    .venv/bin/python experiments/bench_map_cost.py --data ../shared/data/mvtec_ad --weights ../shared/weights \
        > experiments/results/figures_look/map_cost.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from dsn.config.instantiate import model_preset
from dsn.data.dataset import MVTecDataset
from dsn.model.detector import Detector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--weights", required=True, help="a weights folder (weights=...)")
    ap.add_argument("--images", type=int, default=3, help="test images timed per setting")
    args = ap.parse_args()
    hp = model_preset("differsqueezenet")
    hp["features"] = {**hp["features"], "weights": args.weights}
    model = Detector.from_hparams(hp).eval()
    test = MVTecDataset(args.data, "bottle", "test", image_size=448, cache_dir=None)
    rows = []
    for rotations in (8, 64):
        model.anomaly_map(test.images[0], rotations)  # warm-up
        start = time.monotonic()
        for i in range(args.images):
            model.anomaly_map(test.images[i], rotations)
        per_image = (time.monotonic() - start) / args.images
        rows.append(
            {
                "rotations": rotations,
                "s_per_image": round(per_image, 2),
                "bottle_test_images": len(test),
                "stage_s_for_all_test_images": round(per_image * len(test), 1),
            }
        )
    print(json.dumps({"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
