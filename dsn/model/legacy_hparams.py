"""Checkpoints written before the nested model config (dsn until 2026-12-06) kept a flat list of
hyperparameters and a ``detector`` key (absent for the flow). :func:`nest` turns them into the
nested form (``features``, ``views``, ``head``, ``optimizer``) that rebuilds the same model, and
:func:`rename_state` moves their weights to the head's submodule, so they load and score as
before."""

from __future__ import annotations

from collections.abc import Mapping

# settings added to the flow after checkpoints were already in use, with the value older ones trained with
FLOW_ADDED_SINCE = {"lr_schedule": "constant", "train_rotations": True}
VIEW_KEYS = ("rotation_mode", "train_views", "train_rotations", "test_views", "test_angles")
JITTER_KEYS = ("brightness", "contrast", "saturation")
RUN_KEYS = ("name", "seed", "category", "image_size")
PATCH_MAP_SIGMA = 4.0  # what a pooled kNN would blur a patch map with (it has no patch map)


def is_flat(hp: Mapping) -> bool:
    return "head" not in hp


def nest(hp: Mapping) -> dict:
    """Flat hyperparameters (a flow's, or a ``detector: knn | patch`` baseline's) -> nested."""
    kind = hp.get("detector", "flow")
    hp = {**(FLOW_ADDED_SINCE if kind == "flow" else {}), **hp}
    views = {k: hp[k] for k in VIEW_KEYS} | {k: float(hp.get(k, 0.0)) for k in JITTER_KEYS}
    if kind == "patch":
        features = {
            "kind": "patches",
            "backbone": hp["backbone"],
            "taps": [int(t) for t in hp["patch_taps"]],
            "neighbourhood": hp["neighbourhood"],
            "grid": hp["grid"],
            "weights": hp["weights"],
            "chunk": hp["chunk"],
        }
    else:
        features = {
            "kind": "pooled",
            **{k: hp[k] for k in ("backbone", "n_features", "n_scales", "scale_mode", "weights", "chunk")},
        }
    out = {**{k: hp[k] for k in RUN_KEYS}, "features": features, "views": views}
    if kind == "flow":
        out["head"] = {"kind": "flow", **{k: hp[k] for k in ("n_blocks", "hidden", "clamp")}}
        out["optimizer"] = {k: hp[k] for k in ("lr", "betas", "eps", "weight_decay", "lr_schedule")}
    else:
        bank = {k: hp[k] for k in ("k", "metric", "bank_size", "subsample")}
        out["head"] = {"kind": "knn", **bank, "sigma": float(hp.get("sigma", PATCH_MAP_SIGMA))}
        out["optimizer"] = None
    return out


def rename_state(state: Mapping) -> dict:
    """A flat-era state dict: the flow and the bank moved under the head (``model.head.*``)."""
    moved = {"model.flow.": "model.head.flow.", "model.memory.": "model.head.memory."}
    out = {}
    for key, value in state.items():
        for old, new in moved.items():
            if key.startswith(old):
                key = new + key[len(old) :]
        out[key] = value
    return out
