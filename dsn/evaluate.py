"""``dsn-eval``: score a saved checkpoint on a category's test set (no training): metrics.json
and, as configured by ``figures``, the same figures and pixel AUROC a training run draws."""

from __future__ import annotations

import time

import hydra
from omegaconf import DictConfig

from dsn import CONF_DIR
from dsn.builders import build_datamodule, build_trainer, compute_device, finish_loggers
from dsn.checkpoints import load_module
from dsn.feature_cache import cache_test_features
from dsn.test_report import test_and_report


def evaluate(cfg: DictConfig) -> dict:
    """Test the checkpoint ``cfg.ckpt_path`` on ``cfg.data``; returns (and writes) its metrics."""
    if not cfg.get("ckpt_path"):
        raise ValueError("dsn-eval needs ckpt_path=<run dir>/checkpoints/last.ckpt")
    start = time.monotonic()
    module = load_module(cfg.ckpt_path)
    if cfg.data.category != module.hparams.category:
        print(f"note: checkpoint trained on '{module.hparams.category}', evaluating on '{cfg.data.category}'")
    module.hparams.category = cfg.data.category
    datamodule = build_datamodule(cfg)
    datamodule.setup("test")
    fc = cfg.feature_cache
    cache_test_features(module, datamodule.test_set, compute_device(cfg), fc.dir, fc.batch_images)
    trainer = build_trainer(cfg)
    ok = False
    try:
        metrics = test_and_report(cfg, trainer, module, datamodule, module.trained_epochs, start,
                                  lambda: {"checkpoint": str(cfg.ckpt_path)})
        ok = True
    finally:
        finish_loggers(trainer, ok)
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    return evaluate(cfg).get("auroc")


if __name__ == "__main__":
    main()
