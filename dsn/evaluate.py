"""``dsn-eval``: score a saved checkpoint on a category's test set (no training)."""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig

from dsn import CONF_DIR
from dsn.builders import build_datamodule, build_trainer, compute_device
from dsn.checkpoints import load_module
from dsn.feature_cache import cache_test_features
from dsn.report_metrics import run_metrics
from dsn.run_files import write_json


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
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = run_metrics(module, datamodule.test_set, module.trained_epochs, time.monotonic() - start)
    metrics["checkpoint"] = str(cfg.ckpt_path)
    write_json(Path(cfg.paths.output_dir) / "metrics.json", metrics)
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    return evaluate(cfg).get("auroc")


if __name__ == "__main__":
    main()
