"""Scoring image files with a checkpoint into CSV rows (``dsn-predict``): each image is turned into
the detector's inputs the way the checkpoint was trained (``data.input_policy``: squashed, padded
or tiled; an image scores as its worst input), scored in batches, and its row written at once."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from dsn.data.images import DEFAULT_MAX_PIXELS, ImageError
from dsn.data.input_policy import WHOLE, max_per_image, render, split, stitch
from dsn.lit.checkpoints import load_module
from dsn.model.views import fixed_angles
from dsn.results.plots import heat_map_png
from dsn.utils.image_files import open_rgb
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
    dev = torch.device(
        "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    )
    model = module.model.to(dev).eval()
    size = int(module.hparams.image_size)
    t = views or module.views.test_views
    angles = fixed_angles(t).to(dev)
    decision = module.stored_decision
    items = expand_inputs(inputs)
    policy = (module.inputs["input_policy"], float(module.inputs["tile_overlap"]))
    scoring = Scoring(model, size, t, angles, decision, heatmaps, max_pixels, dev, policy)
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
    policy: tuple[str, float]  # the checkpoint's data.input_policy and data.tile_overlap

    def rows(self, chunk: list[Item]) -> list[dict]:
        """The rows of one batch of inputs, in order."""
        chunk = list(chunk)
        images: dict[int, tuple[torch.Tensor, list, Image.Image]] = {}  # inputs (one, or tiles), boxes, image
        for i, item in enumerate(chunk):
            if not item.error:
                try:
                    img = open_rgb(item.path, self.max_pixels)
                    images[i] = (*split(img, self.policy[0], self.size, self.policy[1]), img)
                except ImageError as err:
                    chunk[i] = Item(item.path, str(err))
        scored = {}
        if images:
            batch = torch.cat([inputs for inputs, _, _ in images.values()]).to(self.device)
            owner = torch.cat([torch.full((len(x),), k) for k, (x, _, _) in enumerate(images.values())])
            with torch.no_grad():
                scores = self.model.score(batch, self.angles.expand(len(batch), self.views))
            scored = dict(zip(images, max_per_image(scores.double().cpu(), owner)))
        rows = []
        for i, item in enumerate(chunk):
            if i not in scored:
                rows.append(error_row(item.path, item.error))
                continue
            d = self.decision
            row = score_row(item.path, float(scored[i]), d.threshold, d.low, d.high)
            rows.append(row)
            if self.heatmaps:
                picture, heat = self.heat_map(*images[i])
                norm = "" if row["normalized_score"] == "" else f", normalised {row['normalized_score']}"
                title = f"score {row['score']:.4g}{norm}: {row['verdict']}"
                heat_map_png(picture, heat, Path(self.heatmaps) / heatmap_name(item.path), title)
        return rows

    def heat_map(self, inputs: torch.Tensor, where: list, img: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        """(the image squashed to a square, its anomaly map on that square): the inputs' maps put
        back by their boxes (one whole input, the default policy: its own map)."""
        maps = torch.stack([self.model.anomaly_map(x, n_rotations=self.views).cpu() for x in inputs])
        picture = inputs[0] if where == [WHOLE] else render(img, WHOLE, self.size)  # the one input: the squashed image
        return picture, stitch(maps, where, self.size, self.size)
