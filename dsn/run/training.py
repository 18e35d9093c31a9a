"""One training run, start to end: config checks, the run directory's lock and resume, feature
caches, fit, decision threshold, test, metrics and figures. ``dsn-train`` calls :func:`train`
once per category (and a sweeper once per trial).

The reported AUROC is the last epoch's: the test set is scored after training with the final
weights, and nothing (epoch, checkpoint) is ever selected on it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from dsn.config.config_checks import check_train_config
from dsn.config.instantiate import build_datamodule, build_module, build_trainer, last_checkpoint
from dsn.data.input_policy import max_per_image
from dsn.lit.checkpoints import save_final_checkpoint, trained_epochs
from dsn.lit.interruption import SaveOnSignal, stopped_by_signal
from dsn.lit.loggers import finish_loggers, log_config
from dsn.lit.quiet import quiet_third_party
from dsn.results.metrics import has_both_classes
from dsn.results.run_summary import summary_line
from dsn.results.threshold import f1_optimal, fit_threshold
from dsn.run.feature_cache import prepare_features
from dsn.run.run_dir import (
    RunDirError,
    check_same_model,
    clear_failure,
    record_failure,
    resume_checkpoint,
    run_dir_lock,
    save_run_config,
)
from dsn.run.run_record import RunRecord
from dsn.run.score_and_report import identity_sections, score_and_report

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Fit and test one model on one category; returns the metrics also written to metrics.json.
    A run that ends in an error leaves its one-line reason in ``failure.json`` (unless the
    directory belongs to another run: a busy or mismatched one is not this run's to mark)."""
    try:
        metrics = _train(cfg)
    except RunDirError:
        raise
    except BaseException as err:
        record_failure(cfg.paths.output_dir, err)
        raise
    clear_failure(cfg.paths.output_dir)
    return metrics


def _train(cfg: DictConfig) -> dict:
    run = RunRecord(Path(cfg.paths.output_dir))
    quiet_third_party()
    check_train_config(cfg)  # before any image is decoded
    with run_dir_lock(cfg.paths.output_dir):  # one run per directory
        ckpt = checkpoint_to_resume(cfg)
        save_run_config(cfg, cfg.paths.output_dir)  # only now: a refused rerun keeps the finished run's config
        L.seed_everything(cfg.seed, workers=True)
        module = build_module(cfg)  # before decoding images: unreachable weights fail in seconds
        images = build_datamodule(cfg)
        module.inputs = dict(images.inputs)  # kept in its checkpoints (dsn-eval reads them)
        module.trained_under = identity_sections(cfg)  # likewise (a dsn-eval's identity starts from it)
        images.setup("fit")
        log.info(plan_line(cfg, module, images))
        run.stage("data+model")
        trainer = build_trainer(cfg)  # before the feature caches: a bad trainer setting fails in seconds
        ok = False
        try:
            metrics = fit_and_test(cfg, trainer, module, images, ckpt, run)
            ok = True
        except SIGTERMException:  # Lightning's way out of a SIGTERM: a success unless told otherwise
            on_signal = next(c for c in trainer.callbacks if isinstance(c, SaveOnSignal))
            raise stopped_by_signal(trainer, on_signal, cfg.paths.output_dir) from None
        finally:
            finish_loggers(trainer, ok)
    if metrics:  # the run's last line (console and the run's train.log): what it found, where
        log.info(summary_line(metrics, run.metrics_file))
    return metrics


def plan_line(cfg: DictConfig, module, images) -> str:
    """What the run will do, before it does it: category, model, images, views and passes."""
    fc, hp = cfg.feature_cache, module.hparams
    n_bank = module.views.bank_views_per_image(fc.bank_views)
    bank = f"{n_bank} banked view{'s' if n_bank != 1 else ''} each" if fc.train else "fresh views every step"
    passes = f"{cfg.trainer.max_epochs} passes" if hp.optimizer is not None else "one pass (a fitted head)"
    train, test_set = images.train_set, images.test_set
    test = f", {_images(test_set, 'test')} x {module.views.test_views} views" if cfg.get("test", True) else ""
    return (
        f"plan: {cfg.data.category}, {hp.name} ({hp.features['backbone']} + {hp.head['kind']} head): "
        f"{_images(train, 'training')} ({bank}){test}, {passes}"
    )


def _images(dataset, what: str) -> str:
    """'N <what> images', with the inputs they make when tiled (data.input_policy=tile)."""
    tiles = f" in {len(dataset)} tiles" if len(dataset) != dataset.n_images else ""
    return f"{dataset.n_images} {what} images{tiles}"


def checkpoint_to_resume(cfg: DictConfig) -> Path | None:
    """``ckpt_path``, or (with ``resume``) the newest readable checkpoint in the run directory;
    a checkpoint of another model stops the run here, before anything is trained or written."""
    if cfg.get("ckpt_path"):
        ckpt = Path(cfg.ckpt_path)
        if not ckpt.is_file():
            raise FileNotFoundError(f"checkpoint {ckpt} does not exist (setting ckpt_path)")
    else:
        ckpt = resume_checkpoint(cfg.paths.output_dir) if cfg.get("resume") else None
    if ckpt is not None:
        check_same_model(ckpt, cfg)
    return ckpt


def fit_and_test(cfg: DictConfig, trainer, module, images, ckpt: Path | None, run: RunRecord) -> dict:
    """Features, fit (from ``ckpt`` when resuming), threshold, test and report."""
    log_config(trainer, cfg)
    device = trainer.strategy.root_device  # where the trainer will run the flow
    datamodule = prepare_features(cfg, module, images, "fit", device)
    cache_time = run.elapsed()
    run.stage("feature caches")
    fc = cfg.feature_cache
    # passes the weights had seen before this fit: 0, or where a resumed / continued run left off
    from_epoch = trained_epochs(torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)) if ckpt else 0
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt)
    save_final_checkpoint(trainer, cfg.paths.output_dir)
    run.stage("fit")
    decision = set_decision_threshold(module, datamodule.threshold_set, trainer, device, cfg)
    metrics = {}
    if cfg.get("test", True):
        extra = {
            "train_path": "cached" if fc.train else "plain",
            # seeded views banked per training image (None: a fresh view every step, the reference's way);
            # on Magnetic Tile the bank's size moved the AUROC (experiments/results/mt_reference/)
            "bank_views": fc.bank_views if fc.train else None,
            "cache_time_s": round(cache_time, 1),
            "precision": str(trainer.precision),  # as run: trainer.precision=bf16-if-native resolves per machine
            "checkpoint": str(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"),
            "fit_from_epoch": from_epoch,
        }
        metrics = score_and_report(
            cfg,
            trainer,
            module,
            datamodule,
            trainer.current_epoch,
            run,
            lambda: {**extra, **decision_metrics(module, decision)},
        )
        objective = {f"objective/{k}": metrics[k] for k in cfg.optimized_metrics if metrics.get(k) is not None}
        for lg in trainer.loggers:
            lg.log_metrics(objective)
    return metrics


def set_decision_threshold(module, held_out, trainer, device, cfg) -> dict:
    """Threshold from the held-out good images (their test views' features), stored in the
    module and its last checkpoint."""
    if held_out is None:
        return {}
    module.eval()
    with torch.no_grad():
        scores = module.model.to(device).score_features(held_out.views.to(device)).float().cpu()
    scores = max_per_image(scores, held_out.image_of)
    module.decision = torch.tensor(
        fit_threshold(scores, cfg.threshold.target_fpr), dtype=torch.float64, device=module.decision.device
    )
    last = last_checkpoint(cfg.paths.output_dir)
    if last is not None:  # into the file last.ckpt points at: one file per kept state
        trainer.save_checkpoint(last)
    return {
        "threshold": module.stored_decision.threshold,
        "target_fpr": cfg.threshold.target_fpr,
        "n_val_good": len(held_out),
    }


def decision_metrics(module, decision: dict) -> dict:
    """The stored threshold's error rates on the test set, and the F1-optimal test threshold:
    information about the test set, never used to choose anything."""
    scores, labels = module.test_scores, module.test_labels
    out = dict(decision)
    if decision:
        pred = scores.double() >= decision["threshold"]
        if (labels == 0).any():
            out["test_fpr_at_threshold"] = round(float(pred[labels == 0].float().mean()), 4)
        if (labels == 1).any():
            out["test_tpr_at_threshold"] = round(float(pred[labels == 1].float().mean()), 4)
    if has_both_classes(labels):
        out["f1_optimal_threshold_on_test"], out["f1_optimal_on_test"] = f1_optimal(scores, labels)
    return out
