"""Pixel AUROC and AUPRO of one checkpoint's anomaly maps, on the maps' common scale (what
dsn reports) and with each map min-max scaled to [0, 1] first (how the reference draws its
gradient maps, and what dsn's pixel AUROC did before 2026-11-30). Same maps, two poolings.

    .venv/bin/python experiments/map_scaling.py <run>/checkpoints/last.ckpt \
        --root ../shared/data/mvtec_ad --category bottle --rotations 8
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dsn.data.dataset import MVTecDataset
from dsn.lit.checkpoints import load_module
from dsn.model.map_filters import unit_range
from dsn.results.metrics import pixel_auroc
from dsn.results.region_overlap import pixel_aupro


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--root", required=True)
    ap.add_argument("--category", required=True)
    ap.add_argument("--rotations", type=int, default=8, help="gradient-map rotations (patch maps use one view)")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    module = load_module(args.checkpoint)
    model = module.model.eval()
    test = MVTecDataset(
        args.root, args.category, "test", image_size=module.hparams.image_size, cache_dir=args.cache_dir
    )
    start = time.monotonic()
    maps = torch.stack([model.anomaly_map(img, args.rotations).cpu() for img in test.images])
    out = {"checkpoint": args.checkpoint, "category": args.category, "rotations": args.rotations}
    out["maps_s"] = round(time.monotonic() - start, 1)
    for name, m in (("common_scale", maps), ("per_image_min_max", torch.stack([unit_range(x) for x in maps]))):
        out[name] = {"pixel_auroc": pixel_auroc(m, test.masks), "pixel_aupro": pixel_aupro(m, test.masks)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
