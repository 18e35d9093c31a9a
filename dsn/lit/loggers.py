"""A run's loggers: who it is in W&B, what config it sends, and how it ends there.

Every training run (each trial, each seed of ``-m``, each category of ``objective_categories``)
is its own W&B run, finished when the run ends and marked failed when it fails; a sweep trial's
run is named after its trial number and drawn values and grouped by study.
"""

from __future__ import annotations

import lightning as L
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


def wandb_identity(cfg: DictConfig) -> dict:
    """Name and group of this run in W&B. A sweep trial's run is named after its trial number,
    category and the values the sweeper drew, and grouped by study; other runs keep the config's."""
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    sweeper = hydra.sweeper if hydra is not None else {}
    out = {}
    if sweeper.get("study_name"):
        out["group"] = str(sweeper.study_name)
    if cfg.get("trial") is not None:
        drawn = ", ".join(f"{k.rsplit('.', 1)[-1]}={OmegaConf.select(cfg, k)}" for k in (sweeper.get("params") or {}))
        out["name"] = f"trial {cfg.trial} {cfg.data.category}: {drawn}"
    return out


def log_config(trainer: L.Trainer, cfg: DictConfig) -> None:
    """Send the resolved config to every logger (W&B shows it as the run's hyperparameters)."""
    flat = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in cfg.items()
        if k != "hydra"
    }
    for lg in trainer.loggers:
        lg.log_hyperparams(flat)


def finish_loggers(trainer: L.Trainer, ok: bool) -> None:
    """End this run in every logger: each run (trial, seed, category) is its own W&B run, marked
    failed when the run failed, and the next run in this process starts a new one."""
    from lightning.pytorch.loggers import WandbLogger

    for lg in trainer.loggers:
        lg.finalize("success" if ok else "failed")
        if isinstance(lg, WandbLogger):
            lg.experiment.finish(exit_code=0 if ok else 1)
