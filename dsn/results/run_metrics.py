"""The content of a run's metrics file: what was trained, on what, and how well."""

from __future__ import annotations

from dsn.data.dataset import MVTecDataset
from dsn.model.registry import head_size
from dsn.results.metrics import UndefinedAUROC, image_auroc
from dsn.utils.memory import peak_memory_mb


def run_metrics(module, test_set: MVTecDataset, epochs: int, wall_time_s: float) -> dict:
    hp = module.hparams
    head = head_size(module.model)
    out = {
        "category": hp.category,
        "model": hp.name,
        "backbone": hp.backbone,
        "detector": hp.get("detector", "flow"),
        **{
            k: hp[k]
            for k in ("n_features", "n_scales", "n_blocks", "hidden", "patch_taps", "k", "bank_size")
            if k in hp
        },
        "seed": hp.seed,
        "test_views": hp.test_views,
        "epochs": epochs,
        "wall_time_s": round(wall_time_s, 1),
        "n_test_good": int((test_set.labels == 0).sum()),
        "n_test_defective": int((test_set.labels == 1).sum()),
        "flow_params": head["flow_params"],
        "bank_rows": head["bank_rows"],
        "backbone_params": sum(p.numel() for p in module.model.features.parameters()),
        "curve_test_auroc": [list(c) for c in module.curve],
        **module.fit_stats,
        **peak_memory_mb(),
    }
    try:
        out["auroc"] = image_auroc(module.test_scores, module.test_labels)
    except UndefinedAUROC as err:
        out["auroc"], out["auroc_note"] = None, str(err)
    out["scores"] = [round(float(s), 6) for s in module.test_scores]
    out["labels"] = [int(x) for x in module.test_labels]
    return out
