"""Turning a composed config into objects: datamodule, Lightning module, trainer, loggers.

Hydra's ``instantiate`` is used here and in the entry points only; the objects it builds take
plain values.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dsn.checkpoint_io import StreamingCheckpointIO
from dsn.data import MVTecDataModule
from dsn.lightning_module import DifferLightning


def compute_device(cfg: DictConfig) -> torch.device:
    """Where the frozen backbone runs to prepare cached features: the trainer's accelerator."""
    acc = str(cfg.trainer.get("accelerator", "auto"))
    if acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def build_datamodule(cfg: DictConfig) -> MVTecDataModule:
    return instantiate(cfg.data)


def build_module(cfg: DictConfig) -> DifferLightning:
    return instantiate(cfg.model, seed=cfg.seed, category=cfg.data.category, image_size=cfg.data.image_size,
                       _convert_="all")


def build_trainer(cfg: DictConfig) -> L.Trainer:
    # entries without a _target_ are leftovers of presets that switched a group off (callbacks: null)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg and "_target_" in lg]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[StreamingCheckpointIO()])


def log_config(trainer: L.Trainer, cfg: DictConfig) -> None:
    """Send the resolved config to every logger (W&B shows it as the run's hyperparameters)."""
    flat = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
            for k, v in cfg.items() if k != "hydra"}
    for lg in trainer.loggers:
        lg.log_hyperparams(flat)


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """``checkpoints/last.ckpt`` in a run directory, if a previous attempt left one."""
    p = Path(output_dir) / "checkpoints" / "last.ckpt"
    return p if p.is_file() else None
