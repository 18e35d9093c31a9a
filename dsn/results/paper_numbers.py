"""Published image AUROC (%) on MVTec AD, paper Table 2 (DifferNet as published by Rudolph et al.;
DifferSqueezeNet as published by Manrique Franco & Rudek). These are the papers' own protocol:
the best epoch on the test set, one run."""

PAPER_AUROC = {
    "differnet": {
        "carpet": 92.9,
        "grid": 84.0,
        "leather": 97.1,
        "tile": 99.4,
        "wood": 99.8,
        "bottle": 99.0,
        "cable": 95.9,
        "capsule": 86.9,
        "hazelnut": 99.3,
        "metal_nut": 96.1,
        "pill": 88.8,
        "screw": 96.3,
        "toothbrush": 98.6,
        "transistor": 91.1,
        "zipper": 95.1,
        "mean": 94.9,
    },
    "differsqueezenet": {
        "carpet": 91.2,
        "grid": 87.0,
        "leather": 98.9,
        "tile": 99.0,
        "wood": 100.0,
        "bottle": 100.0,
        "cable": 99.1,
        "capsule": 95.2,
        "hazelnut": 100.0,
        "metal_nut": 99.3,
        "pill": 92.0,
        "screw": 92.4,
        "toothbrush": 94.2,
        "transistor": 96.7,
        "zipper": 93.6,
        "mean": 95.9,
    },
}

# the setting the published numbers were measured in (paper Table 1; dsn's presets of the same
# names): a report shows a published number only beside a row with these values (and trained
# weights, on the whole test set)
PAPER_SETTING = {
    "differsqueezenet": {
        "model.features.backbone": "squeezenet1_1",
        "model.features.n_features": 128,
        "model.features.n_scales": 3,
        "model.head.kind": "flow",
        "data.image_size": 448,
        "data.test_split": "all",
    },
    "differnet": {
        "model.features.backbone": "alexnet",
        "model.features.n_features": 256,
        "model.features.n_scales": 3,
        "model.head.kind": "flow",
        "data.image_size": 448,
        "data.test_split": "all",
    },
}
