"""Turning a composed config into objects: datamodule, Lightning module, trainer, loggers.

Hydra's ``instantiate`` is used here and in the entry points only; the objects it builds take
plain values.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from dsn import CONF_DIR
from dsn.data import MVTecDataModule
from dsn.engine.checkpoints import StreamingCheckpointIO
from dsn.engine.detector_module import DetectorLightning
from dsn.engine.interruption import SaveOnSignal
from dsn.engine.lightning_module import DifferLightning
from dsn.engine.loggers import wandb_identity
from dsn.engine.precision import resolve_precision

# settings of the flow's module that a baseline's module does not take
FLOW_ONLY = frozenset(inspect.signature(DifferLightning.__init__).parameters) - {"self"}


def build_datamodule(cfg: DictConfig) -> MVTecDataModule:
    return instantiate(cfg.data)


def build_module(cfg: DictConfig) -> DetectorLightning:
    """The Lightning module of ``cfg.model``. Flow settings given to a baseline (by a preset such
    as ``debug=default`` or a sweep's search space) are dropped with a warning naming them: they
    have no meaning there, and the run stays what the preset says it is."""
    node = cfg.model
    params = inspect.signature(get_class(node._target_).__init__).parameters
    stray = [k for k in node if k != "_target_" and k not in params and k in FLOW_ONLY]
    if stray:
        warnings.warn(
            f"{', '.join('model.' + k for k in stray)} only apply to a flow; {node._target_} ignores them",
            stacklevel=2,
        )
        node = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in stray}
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as err:  # Hydra's wrapper hides our message behind its own
        raise (err.__cause__ or err) from None


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
    hp = OmegaConf.to_container(cfg.model, resolve=True)
    hp.pop("_target_")
    return {**hp, **overrides}


def build_trainer(cfg: DictConfig) -> L.Trainer:
    # entries without a _target_ are leftovers of presets that switched a group off (callbacks: null)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c and "_target_" in c]
    callbacks.append(SaveOnSignal(cfg.paths.output_dir))  # every run, sweep trials too: a SIGTERM keeps the work
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
