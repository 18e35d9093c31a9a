"""``dsn-export``: a checkpoint -> one ONNX model of the whole scorer, for edge devices.

The graph takes a batch of uint8 images [B, 3, S, S] and returns their anomaly scores [B]:
the T fixed test rotations are a batch dimension inside it, then the frozen backbone at n
scales, pooling, the flow and the mean z². Run it with :mod:`dsn.deploy.edge` (onnxruntime, numpy and
Pillow only; no torch). The stored decision threshold is written beside it as JSON.

    dsn-export logs/train/runs/<run>/checkpoints/last.ckpt --out model.onnx [--views 64]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from dsn.deploy.scorer import Scorer
from dsn.lit.checkpoints import load_module, require_squashed_inputs
from dsn.utils.atomic import write_text_atomic


def export(ckpt: str, out: str, views: int | None = None, opset: int = 18) -> dict:
    module = load_module(ckpt)
    require_squashed_inputs(module, ckpt, "dsn-export")
    t = views or module.views.test_views
    size = int(module.hparams.image_size)
    scorer = Scorer(module.model.eval(), t).eval()
    example = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        scorer,
        (example,),
        str(out_path),
        input_names=["images"],
        output_names=["scores"],
        dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1, max=1024)}},
        opset_version=opset,
        dynamo=True,
        external_data=False,
    )
    meta = {
        "image_size": size,
        "views": t,
        "decision": module.stored_decision._asdict(),
        "model": module.hparams.name,
        "category": module.hparams.category,
    }
    write_text_atomic(out_path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--out", default="model.onnx")
    ap.add_argument("--views", type=int, default=None, help="test rotations per image (default: the checkpoint's)")
    args = ap.parse_args(argv)
    meta = export(args.checkpoint, args.out, args.views)
    size_mb = Path(args.out).stat().st_size / 2**20
    print(f"wrote {args.out} ({size_mb:.1f} MiB, {meta['views']} views, {meta['image_size']} px) and its .json")


if __name__ == "__main__":
    main()
