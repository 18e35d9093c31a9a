"""A run's identity: the resolved settings that define its result, minus the seed.

``dsn-report`` averages runs only when their identities are equal (they then differ in seed
alone) and names the settings in which its rows differ. The identity is a flat mapping of dotted
setting names (as typed on the command line) to values:

- ``model.*``: the hyperparameters the module was built with (after ``model.tiny``), except the
  seed and ``model.features.chunk`` (a memory bound); ``model.features.weights`` is replaced by
  what was loaded: ``random`` or ``sha256:<digest of the backbone's state>``, so downloaded ImageNet
  weights and the same weights read from a file are one identity, and a path is not;
- ``data.*``: category, image size, test split (a sweep's search half is another test set),
  held-out share, the input policy and its tiles' overlap (only when not the default ``resize``,
  which every run before the setting used); ``trainer.*``: passes, precision as run, gradient clipping, accumulation;
  ``feature_cache.*``: the cached path and its training bank; ``callbacks.*``: callbacks that change
  the weights (an average of weights), not the checkpointing ones.

Anything else (paths, loggers, workers, batch sizes of the caches, the figures) does not change the
image AUROC and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

KEPT = {
    "data": (
        "category",
        "image_size",
        "batch_size",
        "test_split",
        "search_fraction",
        "val_fraction",
        "input_policy",
        "tile_overlap",
    ),
    "trainer": ("max_epochs", "precision", "gradient_clip_val", "accumulate_grad_batches"),
    "feature_cache": ("train", "bank_views"),
}
# callbacks that only save or report; every other callback is part of the identity
BOOKKEEPING_CALLBACKS = ("model_checkpoint", "save_on_signal", "progress", "timer")
MODEL_LEFT_OUT = ("seed", "category", "image_size", "features.chunk", "features.weights", "tiny")
RANDOM = ("none", "random", None)


def flatten(d: Mapping, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and tuples become lists."""
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def run_identity(model_hp: Mapping, sections: Mapping, weights_digest: str | None, precision: str | None) -> dict:
    """The identity of a run built with ``model_hp`` under the resolved config ``sections`` (data,
    trainer, feature_cache, callbacks; absent ones are skipped), with the backbone's state digest
    (None: random weights) and the precision the trainer ran at."""
    model = flatten(model_hp)
    out = {f"model.{k}": v for k, v in model.items() if not k.startswith(MODEL_LEFT_OUT)}
    out["model.features.weights"] = "random" if weights_digest is None else f"sha256:{weights_digest}"
    for section, keys in KEPT.items():
        given = sections.get(section) or {}
        out.update({f"{section}.{k}": given[k] for k in keys if k in given})
    if precision is not None:
        out["trainer.precision"] = precision
    if out.get("data.test_split", "all") == "all":
        out.pop("data.search_fraction", None)  # the whole test set: the search share does not apply
    if out.get("data.input_policy", "resize") == "resize":
        out.pop("data.input_policy", None)  # the reference's, and every run's before the setting
        out.pop("data.tile_overlap", None)
    elif out["data.input_policy"] == "pad":
        out.pop("data.tile_overlap", None)  # no tiles
    if not out.get("feature_cache.train", True):
        out.pop("feature_cache.bank_views", None)  # the plain path has no bank
    callbacks = sections.get("callbacks") or {}
    for name, node in callbacks.items():
        if name not in BOOKKEEPING_CALLBACKS and isinstance(node, Mapping):
            out.update(flatten(node, f"callbacks.{name}."))
    out["data.category"] = model_hp.get("category", out.get("data.category"))
    return dict(sorted(out.items()))


def is_random(weights: object) -> bool:
    """A ``model.features.weights`` setting that means random initialisation."""
    return weights in RANDOM
