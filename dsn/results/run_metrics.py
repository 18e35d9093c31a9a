"""The content of a run's metrics file: what was trained, on what, and how well."""

from __future__ import annotations

import torch

from dsn.data.layout import GOOD
from dsn.data.view_features import CachedViews
from dsn.results.metrics import UndefinedAUROC, image_auroc
from dsn.utils.memory import peak_memory_mb


def run_metrics(module, test_set: CachedViews, epochs: int, wall_time_s: float) -> dict:
    hp = module.hparams
    size = module.model.size()
    features, head = hp.features, hp.head
    out = {
        "category": hp.category,
        "model": hp.name,
        "backbone": features["backbone"],
        "detector": head["kind"],  # the head; read with "features" (pooled or patches)
        "features": features["kind"],
        # the settings tables show, flat (the whole nested model is in the run's .hydra/config.yaml)
        **{k: features[k] for k in ("n_features", "n_scales") if k in features},
        **({"patch_taps": list(features["taps"]), "grid": features["grid"]} if "taps" in features else {}),
        **{k: v for k, v in head.items() if k != "kind" and isinstance(v, (int, float, str, type(None)))},
        "seed": hp.seed,
        "test_views": module.views.test_views,
        "epochs": epochs,
        "wall_time_s": round(wall_time_s, 1),
        "n_test_good": int((test_set.labels == 0).sum()),
        "n_test_defective": int((test_set.labels == 1).sum()),
        **size,
        "curve_test_auroc": [list(c) for c in module.curve],
        **module.fit_stats,
        **peak_memory_mb(),
    }
    try:
        out["auroc"] = image_auroc(module.test_scores, module.test_labels)
    except UndefinedAUROC as err:
        out["auroc"], out["auroc_note"] = None, str(err)
    out["auroc_by_defect"] = auroc_by_defect(module.test_scores, [s.defect for s in test_set.samples])
    out["scores"] = [round(float(s), 6) for s in module.test_scores]
    out["labels"] = [int(x) for x in module.test_labels]
    return out


def auroc_by_defect(scores, defects: list[str]) -> dict[str, float]:
    """Image AUROC of the good test images against each defect type alone ({} without good
    images): which kinds of defect a detector misses, and so which detectors complement it."""
    scores = torch.as_tensor(scores).flatten().cpu()
    if len(defects) != len(scores):
        raise ValueError(f"{len(scores)} test scores for {len(defects)} test images")
    good = torch.tensor([d == GOOD for d in defects])
    out = {}
    for defect in sorted(set(defects) - {GOOD}) if good.any() else []:
        of_it = torch.tensor([d == defect for d in defects])
        out[defect] = image_auroc(scores[good | of_it], of_it[good | of_it].long())
    return out
