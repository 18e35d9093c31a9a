"""Turning a composed config into objects: datamodule, Lightning module, trainer, loggers.

Hydra's ``instantiate`` is used here and in the entry points only; the objects it builds take
plain values.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dsn import CONF_DIR
from dsn.data import MVTecDataModule
from dsn.lit.checkpoints import StreamingCheckpointIO
from dsn.lit.detector_module import DetectorLightning
from dsn.lit.fit_estimate import FitEstimate
from dsn.lit.interruption import SaveOnSignal
from dsn.lit.loggers import wandb_identity
from dsn.lit.modules import effective_hparams, given_head_settings, module_for
from dsn.lit.precision import resolve_precision
from dsn.lit.quiet import quiet_third_party


def build_datamodule(cfg: DictConfig) -> MVTecDataModule:
    return instantiate(cfg.data)


def build_module(cfg: DictConfig) -> DetectorLightning:
    """The Lightning module of ``cfg.model``: its head's training style picks the module."""
    return module_for(effective_hparams(OmegaConf.to_container(cfg.model, resolve=True), given_head_settings()))


def model_preset(name: str, **overrides) -> dict:
    """The hyperparameters ``conf/model/<name>.yaml`` gives (resolved as dsn-train resolves them,
    with the default data settings), with ``overrides``: the one way code outside a Hydra run
    (dsn-size, tests) builds a preset's model."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={name}"])
    GlobalHydra.instance().clear()
    return {**effective_hparams(OmegaConf.to_container(cfg.model, resolve=True)), **overrides}


def build_trainer(cfg: DictConfig) -> L.Trainer:
    quiet_third_party()  # before Lightning looks at its environment (its srun hint)
    # entries without a _target_ are leftovers of presets that switched a group off (callbacks: null)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c]
    callbacks.append(SaveOnSignal(cfg.paths.output_dir))  # every run, sweep trials too: a SIGTERM keeps the work
    callbacks.append(FitEstimate())  # one line after the first pass: how long the fit will take
    loggers = [
        instantiate(lg, **(wandb_identity(cfg) if key == "wandb" else {}))
        for key, lg in (cfg.get("logger") or {}).items()
        if lg and "_target_" in lg
    ]
    trainer = instantiate(
        cfg.trainer,
        precision=resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator),
        callbacks=callbacks,
        logger=loggers or False,
        plugins=[StreamingCheckpointIO()],
    )
    if trainer.world_size > 1:
        raise ValueError(
            f"dsn trains one flow per process, but trainer.devices={cfg.trainer.get('devices')} / "
            f"trainer.strategy={cfg.trainer.strategy} start {trainer.world_size}: each "
            f"rank would score only its share of the test set. Use trainer.devices=1 and run "
            f"trials or seeds side by side instead (hydra.sweeper.n_jobs, several sweep workers)"
        )
    return trainer


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """The file ``checkpoints/last.ckpt`` points at (this run's newest checkpoint), if any."""
    p = Path(output_dir) / "checkpoints" / "last.ckpt"
    return p.resolve() if p.is_file() else None
