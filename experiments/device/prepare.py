"""Build the compact data cache that travels to the lent GPU machine (``.devcache/``, git-ignored).

The device call carries at most 64 MiB and ``../shared`` does not travel. ``bottle`` (151 MB of
900-px PNGs) is stored as the exact 448-px RGB images dsn computes from them, losslessly
(WebP lossless): dsn's loader resizes a 448-px image to 448 px as a plain copy, so the tensors
are bit-identical to those from the originals (checked below). ``magnetic_tile`` travels as its
original JPEGs (52 MB), in a second call. Weights are copied as they are.

    python experiments/device/prepare.py bottle          # -> .devcache/data/bottle, .devcache/weights
    python experiments/device/prepare.py magnetic_tile   # -> .devcache/data/magnetic_tile
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from PIL import Image

from dsn.data.images import load_image, load_mask, to_rgb8

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CACHE = REPO / ".devcache"
SIZE = 448


def prepare_bottle() -> None:
    src, dst = SHARED / "data" / "mvtec_ad" / "bottle", CACHE / "data" / "bottle"
    for f in sorted(src.rglob("*.png")):
        rel = f.relative_to(src)
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel.parts[0] == "ground_truth":
            with Image.open(f) as m:
                m.convert("L").resize((SIZE, SIZE), Image.NEAREST).save(out)
            assert torch.equal(load_mask(out, SIZE), load_mask(f, SIZE)), f
            continue
        out = out.with_suffix(".webp")
        with Image.open(f) as img:
            to_rgb8(img).resize((SIZE, SIZE), Image.BILINEAR).save(out, "WEBP", lossless=True, quality=100, method=4)
        assert torch.equal(load_image(out, SIZE), load_image(f, SIZE)), f  # bit-identical input tensors


def prepare_magnetic_tile() -> None:
    src, dst = SHARED / "data" / "magnetic_tile", CACHE / "data" / "magnetic_tile"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.md"))


def main(which: str) -> None:
    if which == "bottle":
        prepare_bottle()
        (CACHE / "weights").mkdir(parents=True, exist_ok=True)
        for w in (SHARED / "weights").glob("*.pth"):
            shutil.copy2(w, CACHE / "weights" / w.name)
    elif which == "magnetic_tile":
        prepare_magnetic_tile()
    else:
        raise SystemExit("usage: prepare.py bottle|magnetic_tile")
    total = sum(f.stat().st_size for f in CACHE.rglob("*") if f.is_file())
    print(f"{CACHE}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
