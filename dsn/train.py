"""``dsn-train``: train the flow on one category's defect-free images, then score its test set.

The reported AUROC is the last epoch's: the test set is scored after training with the final
weights, and nothing (epoch, checkpoint) is ever selected on it.
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig

from dsn import CONF_DIR
from dsn.builders import (build_datamodule, build_module, build_trainer, compute_device, last_checkpoint,
                          log_config)
from dsn.feature_cache import cache_test_features, cache_train_features
from dsn.report_metrics import run_metrics
from dsn.run_figures import write_run_figures
from dsn.run_files import write_json


def train(cfg: DictConfig) -> dict:
    """Fit and test one model on one category; returns the metrics also written to metrics.json."""
    start = time.monotonic()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    module = build_module(cfg)
    device, fc = compute_device(cfg), cfg.feature_cache
    if fc.train:
        cache_train_features(module, datamodule.train_set, fc.bank_views, cfg.seed, device, fc.dir, fc.batch_images)
    cache_test_features(module, datamodule.test_set, device, fc.dir, fc.batch_images)
    cache_time = time.monotonic() - start

    trainer = build_trainer(cfg)
    log_config(trainer, cfg)
    ckpt = cfg.get("ckpt_path") or (last_checkpoint(cfg.paths.output_dir) if cfg.get("resume") else None)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt)
    metrics = {}
    if cfg.get("test", True):
        trainer.test(module, datamodule=datamodule, verbose=False)
        metrics = run_metrics(module, datamodule.test_set, trainer.current_epoch, time.monotonic() - start)
        metrics["train_path"] = "cached" if fc.train else "plain"
        metrics["cache_time_s"] = round(cache_time, 1)
        metrics["precision"] = str(cfg.trainer.precision)
        metrics["checkpoint"] = str(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
        metrics_file = write_json(Path(cfg.paths.output_dir) / "metrics.json", metrics)  # before the extras
        fig = cfg.get("figures")
        if fig and fig.enabled:
            metrics.update(write_run_figures(module, datamodule.test_set, cfg.paths.output_dir, trainer.loggers,
                                             fig.gradient_maps, fig.map_rotations, fig.pixel_auroc))
            write_json(metrics_file, metrics)
    for lg in trainer.loggers:
        lg.finalize("success")
    return metrics


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point; returns the AUROC so Hydra sweepers can optimise it."""
    return train(cfg).get("auroc")


if __name__ == "__main__":
    main()
