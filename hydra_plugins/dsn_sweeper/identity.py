"""A study is one experiment: what defines its trials is stored with it, and checked by every
worker that joins it.

The identity is the search space, the sweeper's seed and directions, and every resolved setting
of the run's config that can change a trial's result (model preset, data root and category,
schedule, test split, ...), less the searched keys and the settings that only say where or how
output is written. It is stored in the study's user attributes when the study is created (a hash
and the readable list); a worker whose identity differs stops before asking a trial, naming the
differing keys with both values. So a DifferNet search never lands in a SqueezeNet study, and a
changed search space gets its own study instead of Optuna's ``dynamic value space`` crash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

ATTR, HASH_ATTR = "dsn_identity", "dsn_identity_hash"
# settings that do not change a trial's result: where things are written, logging, figures, caches
IGNORED = (
    "hydra",
    "paths",
    "logger",
    "figures",
    "trial",
    "tags",
    "task_name",
    "resume",
    "ckpt_path",
    "callbacks.model_checkpoint",
    "feature_cache.dir",
    "feature_cache.batch_images",
    "feature_cache.save_every_s",
    "feature_cache.max_gb",
    "data.cache_dir",
    "data.num_workers",
    "model.features.chunk",
    "trainer.enable_progress_bar",
)


# the settings that say what an experiment is, named first when two differ
FIRST = ("model.name", "model.features.backbone", "data.root", "data.category", "data.test_split", "trainer.max_epochs")


class StudyMismatch(RuntimeError):
    """The study under this name was created for another experiment."""

    one_line = True  # its message says what to do: told without a traceback


def _leaves(node, prefix: str = ""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1], node


def _ignored(key: str, searched: set[str]) -> bool:
    return key in searched or any(key == p or key.startswith(p + ".") for p in IGNORED)


def study_identity(config: DictConfig, params: dict, seed: int, directions: list[str]) -> dict[str, str]:
    """Readable identity: dotted key -> value as text."""
    raw = OmegaConf.to_container(config, resolve=False)
    out = {}
    for key, _ in _leaves(raw):
        if not key or _ignored(key, set(params)):
            continue
        try:
            value = OmegaConf.select(config, key, throw_on_resolution_failure=True)
        except Exception:  # a runtime-only interpolation: not a setting of the experiment
            continue
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if key == "model.features.weights" and isinstance(value, str) and value not in ("imagenet", "none", "random"):
            value = Path(value).name  # the file, wherever this machine keeps it
        out[key] = json.dumps(value, sort_keys=True)
    for key, spec in params.items():
        out[f"search.{key}"] = json.dumps(spec, sort_keys=True)
    out["search.seed"] = json.dumps(seed)
    out["search.directions"] = json.dumps([d.lower() for d in directions])
    return dict(sorted(out.items()))


def identity_hash(identity: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def check_identity(study_name: str, stored: dict | None, mine: dict[str, str]) -> None:
    """Raise :class:`StudyMismatch` naming the differing keys when ``stored`` is another experiment."""
    if not stored or stored == mine:
        return
    keys = sorted(
        (k for k in stored.keys() | mine.keys() if stored.get(k) != mine.get(k)),
        key=lambda k: (0 if k in FIRST else 1 if k.startswith("search.") else 2, k),
    )
    shown = "; ".join(f"{k}: {stored.get(k, '(unset)')} in the study, {mine.get(k, '(unset)')} here" for k in keys[:4])
    more = f" (and {len(keys) - 4} more)" if len(keys) > 4 else ""
    raise StudyMismatch(
        f"study '{study_name}' holds another experiment: {shown}{more}. Give this search its own "
        f"study (hydra.sweeper.study_name=...), or run it with the study's settings"
    )
