"""Scoring a saved checkpoint on a category's test set (no training), for ``dsn-eval``: the same
metrics file and, as ``figures`` says, the same figures and pixel AUROC a training run writes
(:func:`dsn.run.score_and_report.score_and_report`, shared with :mod:`dsn.run.training`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig, open_dict

from dsn.config.config_checks import ConfigError, check_eval_config
from dsn.config.instantiate import build_datamodule, build_trainer
from dsn.lit.checkpoints import load_module
from dsn.lit.loggers import finish_loggers
from dsn.lit.quiet import quiet_third_party
from dsn.run.feature_cache import prepare_features
from dsn.run.run_dir import run_dir_lock, save_run_config
from dsn.run.run_record import RunRecord
from dsn.run.score_and_report import score_and_report


def evaluate(cfg: DictConfig) -> dict:
    """Test the checkpoint ``cfg.ckpt_path`` on ``cfg.data``; returns (and writes) its metrics."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("dsn-eval needs ckpt_path=<run dir>/checkpoints/last.ckpt")
    check_eval_config(cfg)
    run = RunRecord(Path(cfg.paths.output_dir))
    quiet_third_party()
    with run_dir_lock(cfg.paths.output_dir):
        module = load_module(cfg.ckpt_path)
        use_checkpoint_input(cfg, module)
        save_run_config(cfg, cfg.paths.output_dir)
        if cfg.data.category != module.hparams.category:
            print(f"note: checkpoint trained on '{module.hparams.category}', evaluating on '{cfg.data.category}'")
        module.hparams.category = cfg.data.category
        if cfg.get("test_views") is not None:  # an ablation of the test-time views on a trained model
            module.views = replace(module.views, test_views=int(cfg.test_views))
            module.hparams.views["test_views"] = module.views.test_views
        if cfg.get("score_quantile") is not None:  # another image score from the same patch scores
            use_score_quantile(cfg, module)
        images = build_datamodule(cfg)
        images.setup("test")
        trainer = build_trainer(cfg)
        datamodule = prepare_features(cfg, module, images, "test", trainer.strategy.root_device)
        run.stage("feature caches")
        ok = False
        try:
            metrics = score_and_report(
                cfg,
                trainer,
                module,
                datamodule,
                module.trained_epochs,
                run,
                lambda: {"checkpoint": str(cfg.ckpt_path)},
            )
            ok = True
        finally:
            finish_loggers(trainer, ok)
    return metrics


def use_checkpoint_input(cfg: DictConfig, module) -> None:
    """The image size and input policy the checkpoint was trained with: scores under others would
    silently differ."""
    trained = int(module.hparams.image_size)
    asked = cfg.data.get("image_size")
    if asked is not None and int(asked) != trained:
        raise ConfigError(
            f"data.image_size={asked}, but checkpoint {cfg.ckpt_path} was trained at {trained} px: "
            f"leave data.image_size unset (dsn-eval takes the checkpoint's size)"
        )
    with open_dict(cfg):
        cfg.data.image_size = trained
        cfg.data.input_policy = module.inputs["input_policy"]
        cfg.data.tile_overlap = module.inputs["tile_overlap"]


def use_score_quantile(cfg: DictConfig, module) -> None:
    """Score each image by the ``cfg.score_quantile`` quantile of its patch scores instead of the
    checkpoint's (a patch flow's ``model.head.score_quantile``): the head's weights and maps do not
    depend on it, so choosing it on a search split needs one training run, not one per value."""
    head, q = module.model.head, float(cfg.score_quantile)
    if not hasattr(head, "score_quantile"):
        raise ConfigError(
            f"score_quantile={q}: checkpoint {cfg.ckpt_path} has a '{module.hparams.head['kind']}' head, which "
            f"scores an image by its worst row; only a patch_flow head takes score_quantile: leave it unset"
        )
    head.score_quantile = q
    module.hparams.head["score_quantile"] = q
