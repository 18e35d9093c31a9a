"""Checks of a composed config before any image is decoded or any weight is loaded.

A wrong type or range, or two settings that must agree, used to surface as a raw error after
minutes of decoding images and embedding views. Here each problem is one line that names the
real key and what it accepts.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from dsn.data.input_policy import POLICIES
from dsn.lit.gradient_module import OPTIMIZER_KEYS
from dsn.model.backbones import BACKBONES, valid_widths
from dsn.model.extractors import check_feature_keys
from dsn.model.heads import check_head
from dsn.model.settings import check_keys
from dsn.model.view_policy import ViewPolicy


class ConfigError(ValueError):
    """A setting that cannot work; the message names the key."""


def _get(cfg: DictConfig, key: str):
    return OmegaConf.select(cfg, key, throw_on_missing=False)


def _int(cfg: DictConfig, key: str, low: int = 1) -> None:
    v = _get(cfg, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"{key} must be an integer >= {low}, got {v!r}")


def _number(
    cfg: DictConfig, key: str, low: float, high: float | None = None, low_open: bool = False, high_open: bool = True
) -> None:
    v = _get(cfg, key)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    ok = ok and (v > low if low_open else v >= low) and (high is None or (v < high if high_open else v <= high))
    if not ok:
        rng = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be a number in {rng}, got {v!r}")


def _choice(cfg: DictConfig, key: str, choices) -> None:
    v = _get(cfg, key)
    if v not in choices:
        raise ConfigError(f"{key} must be one of {sorted(choices)}, got {v!r}")


def check_data(cfg: DictConfig) -> None:
    for key in ("data.batch_size", "data.test_batch_size", "feature_cache.batch_images"):
        _int(cfg, key)
    _int(cfg, "data.num_workers", 0)
    if _get(cfg, "data.max_pixels") is not None:  # None: dsn's default
        _int(cfg, "data.max_pixels", 256)
    if _get(cfg, "data.image_size") is not None:  # dsn-eval: None = the checkpoint's
        _int(cfg, "data.image_size", 16)
    _number(cfg, "data.val_fraction", 0.0, 1.0)
    _number(cfg, "data.search_fraction", 0.0, 1.0, low_open=True)
    _choice(cfg, "data.test_split", {"all", "search", "final"})
    if _get(cfg, "data.input_policy") is not None:  # dsn-eval: None = the checkpoint's
        _choice(cfg, "data.input_policy", set(POLICIES))
        _number(cfg, "data.tile_overlap", 0.0, 1.0, high_open=True)
    _number(cfg, "feature_cache.max_gb", 0.0)
    _number(cfg, "feature_cache.save_every_s", 0.0)


def check_model(cfg: DictConfig) -> ViewPolicy:
    """``model.features``, ``model.views`` (their checks are the view policy's own), ``model.head``
    (its keys, types and values, the head's own checks on a stand-in layout) and, for a
    gradient-trained head, ``model.optimizer``. Returns the view policy."""
    if not isinstance(_get(cfg, "model.tiny"), bool):
        raise ConfigError(f"model.tiny must be true or false, got {_get(cfg, 'model.tiny')!r}")
    _check_features(cfg)
    try:
        views = ViewPolicy.of(OmegaConf.to_container(cfg.model.views, resolve=True))
        head = check_head(OmegaConf.to_container(cfg.model.head, resolve=True))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if head.training_style == "gradient":
        _check_optimizer(cfg)
    return views


def _check_features(cfg: DictConfig) -> None:
    try:
        check_feature_keys(OmegaConf.to_container(cfg.model.features, resolve=True))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    _choice(cfg, "model.features.backbone", set(BACKBONES))
    _int(cfg, "model.features.chunk")
    backbone = cfg.model.features.backbone
    widths = valid_widths(backbone)
    if cfg.model.features.kind == "patches":
        taps = _get(cfg, "model.features.taps")
        if not (OmegaConf.is_list(taps) and taps and all(t in widths for t in taps)):
            raise ConfigError(
                f"model.features.taps must be a list of widths backbone '{backbone}' can be tapped at "
                f"({widths}), got {taps!r}"
            )
        for key in ("model.features.neighbourhood", "model.features.grid"):
            _int(cfg, key)
        return
    if _get(cfg, "model.features.n_features") not in widths:
        raise ConfigError(
            f"model.features.n_features must be a width backbone '{backbone}' can be tapped at, "
            f"one of {widths}; got {_get(cfg, 'model.features.n_features')!r}"
        )
    _int(cfg, "model.features.n_scales")
    _choice(cfg, "model.features.scale_mode", {"nearest", "bilinear"})


def _check_optimizer(cfg: DictConfig) -> None:
    optimizer = _get(cfg, "model.optimizer")
    try:
        check_keys("model.optimizer", optimizer.keys() if optimizer is not None else (), OPTIMIZER_KEYS)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    for key in ("model.optimizer.lr", "model.optimizer.eps"):
        _number(cfg, key, 0.0, low_open=True)
    _number(cfg, "model.optimizer.weight_decay", 0.0)
    _choice(cfg, "model.optimizer.lr_schedule", {"constant", "cosine"})
    betas = _get(cfg, "model.optimizer.betas")
    if not (
        OmegaConf.is_list(betas) and len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
    ):
        raise ConfigError(f"model.optimizer.betas must be two numbers in [0, 1), got {betas!r}")


def check_eval_config(cfg: DictConfig) -> None:
    """Everything ``dsn-eval`` reads besides the checkpoint, before it reads any image."""
    check_data(cfg)
    if _get(cfg, "test_views") is not None:  # None: the checkpoint's test rotations
        _int(cfg, "test_views")
    if _get(cfg, "score_quantile") is not None:  # None: the checkpoint's image score
        _number(cfg, "score_quantile", 0.0, 1.0, low_open=True, high_open=False)


def check_train_config(cfg: DictConfig) -> None:
    """Everything ``dsn-train`` reads, before it reads any image."""
    check_data(cfg)
    _int(cfg, "data.image_size", 16)
    views = check_model(cfg)
    _int(cfg, "trainer.max_epochs")
    _int(cfg, "seed", 0)
    _number(cfg, "threshold.target_fpr", 0.0, 1.0)
    if cfg.feature_cache.train:
        _int(cfg, "feature_cache.bank_views")
        # views per image in the bank: bank_views with rotations or colour jitter (else one upright)
        if (views.train_rotations or views.jitters) and cfg.feature_cache.bank_views < views.train_views:
            raise ConfigError(
                f"feature_cache.bank_views={cfg.feature_cache.bank_views} must be at least "
                f"model.views.train_views={views.train_views} (each step picks that many views per image "
                f"from the bank)"
            )
