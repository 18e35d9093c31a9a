"""After testing: the run's figures, gradient maps, pixel AUROC and AUPRO, saved and sent to the loggers."""

from __future__ import annotations

from pathlib import Path

import torch

from dsn.data.input_policy import stitch
from dsn.data.view_features import CachedViews
from dsn.results.metrics import UndefinedAUROC, has_both_classes, pixel_auroc
from dsn.results.plots import gradient_maps_png, roc_curve_png, score_histogram_png
from dsn.results.region_overlap import pixel_aupro
from dsn.utils.progress_bar import ProgressBar


def write_run_figures(
    module,
    test_set: CachedViews,
    out_dir: str | Path,
    *,
    loggers,
    gradient_maps: int,
    map_rotations: int,
    with_pixel_auroc: bool,
) -> dict:
    """Save ROC, histogram and gradient-map figures under ``out_dir/figures``; return extra metrics."""
    out = Path(out_dir) / "figures"
    hp, scores, labels = module.hparams, module.test_scores, module.test_labels
    name = f"{hp.name} {hp.category} seed {hp.seed}"
    files, extra = [], {}
    if has_both_classes(labels):
        files.append(roc_curve_png(scores, labels, f"ROC: {name}", out / "roc.png"))
    files.append(score_histogram_png(scores, labels, f"scores: {name}", out / "score_histogram.png"))

    model = module.model.eval()
    chosen = _spread_defective(test_set, gradient_maps)
    # pixel metrics need the ground truth: without masks, only the figure's few maps are drawn
    if with_pixel_auroc and (test_set.masks is None or not bool((test_set.masks > 0).any())):
        with_pixel_auroc = False
        extra["pixel_auroc_note"] = "no ground-truth masks in the test set: pixel metrics not computed"
    todo = range(test_set.n_images) if with_pixel_auroc else chosen
    if model.layout.grid is not None:  # a patch grid's map is its upright view's patch scores
        map_rotations = None
    how = f"{map_rotations} rotations each" if map_rotations else "patch scores of the upright view"
    bar = ProgressBar(len(todo), f"anomaly maps ({how})")
    maps = {}
    upright = upright_rows(module, test_set)
    for i in todo:
        maps[i] = image_map(model, test_set, i, map_rotations, upright)
        bar.update(1)
    bar.close()
    if chosen:
        titles = [
            f"{test_set.samples[i].defect} / {test_set.samples[i].path.name}  score {scores[i]:.3g}" for i in chosen
        ]
        files.append(
            gradient_maps_png(
                test_set.pictures[chosen],
                torch.stack([maps[i] for i in chosen]),
                test_set.masks[chosen],
                titles,
                out / "gradient_maps.png",
                "gradient map" if model.layout.grid is None else "patch score map",
            )
        )
    if with_pixel_auroc:
        stacked = torch.stack([maps[i] for i in todo])
        try:
            extra["pixel_auroc"] = pixel_auroc(stacked, test_set.masks)
            extra["pixel_aupro"] = pixel_aupro(stacked, test_set.masks)  # MVTec AD's region metric, FPR <= 0.3
        except UndefinedAUROC as err:
            extra["pixel_auroc"] = extra["pixel_aupro"] = None
            extra["pixel_auroc_note"] = str(err)
        extra["map_rotations"] = map_rotations
        extra["map_scale"] = "common"  # pooled on the model's scale (before 2026-11-30: min-max per image)
    # per class, as test/auroc/<category> (a sweep's W&B runs compare classes by these keys)
    pixel = {f"test/{k}/{hp.category}": extra[k] for k in ("pixel_auroc", "pixel_aupro") if extra.get(k) is not None}
    for lg in loggers:
        if hasattr(lg, "log_image"):  # W&B
            lg.log_image(key="figures", images=[str(f) for f in files], caption=[f.stem for f in files])
        if pixel:
            lg.log_metrics(pixel)
    extra["figures"] = [str(f) for f in files]
    return extra


def upright_rows(module, test_set: CachedViews) -> torch.Tensor | None:
    """The row scores of each test input's upright view [M, rows], where a patch-grid model's
    maps can be read from them (the map of a grid is its upright view's row scores): those the
    test kept (``module.test_rows``), else from the cached upright features; None elsewhere."""
    if module.model.layout.grid is None:
        return None
    angles = module.test_angles(torch.arange(len(test_set)))
    if not bool((angles[:, 0] == 0).all()):
        return None
    if module.test_rows is not None and module.test_rows.shape[0] == len(test_set):
        return module.test_rows
    with torch.no_grad():
        views = test_set.views[:, 0].split(64)
        return torch.cat([module.model.head.local_scores(v.to(module.model.device)).cpu() for v in views])


def image_map(
    model, test_set: CachedViews, image: int, map_rotations: int, upright: torch.Tensor | None = None
) -> torch.Tensor:
    """Anomaly map of test image ``image`` on the square frame its mask is scored on: its inputs'
    maps (one, or a tile each) put back by the input policy's boxes; from the ``upright`` row
    scores where given (:func:`upright_rows`)."""
    items = test_set.inputs_of(image)
    side = test_set.images.shape[-1]
    maps = torch.stack(
        [
            (
                model.rows_map(upright[j], side)
                if upright is not None
                else model.anomaly_map(test_set.images[j], map_rotations)
            ).cpu()
            for j in items
        ]
    )
    return stitch(maps, [test_set.boxes[j] for j in items], side, side)


def _spread_defective(test_set: CachedViews, n: int) -> list[int]:
    """Up to ``n`` defective images, taken round-robin over the defect types."""
    by_type: dict[str, list[int]] = {}
    for i, s in enumerate(test_set.samples):
        if s.label == 1:
            by_type.setdefault(s.defect, []).append(i)
    picked, queues = [], list(by_type.values())
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return sorted(picked)
