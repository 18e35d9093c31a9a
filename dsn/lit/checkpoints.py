"""Checkpoint files: written straight to disk atomically, and loaded safely without Hydra.

Writing: Lightning's default writer serialises the whole checkpoint into memory first and then
copies that buffer again on writing: for the paper's 153 M-parameter flow with its Adam state
(1.8 GB) that is 3.6 GB of transient copies, most of a training run's peak memory.
:class:`StreamingCheckpointIO` streams ``torch.save`` into a temporary file beside the target and
renames it into place, so a killed run leaves the old checkpoint or the new one, never half a
file, and no copy in memory.

Keeping: :class:`NewestCheckpoint` keeps one checkpoint file and one ``last.ckpt`` link however
often a run is killed and resumed (Lightning never deletes the file a run resumed from, and adds
``last-v1.ckpt``, ``last-v2.ckpt``: each resume of a paper flow kept another 2.1 GB).

Loading: checkpoints are read with ``weights_only=True`` (no arbitrary objects are unpickled), and
the backbone is rebuilt without downloading: its weights are inside the checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from dsn.lit.detector_module import DetectorLightning
from dsn.lit.modules import module_for
from dsn.model.legacy_hparams import is_flat, nest, rename_state
from dsn.utils.atomic import atomic_path


def load_module(path: str | Path, map_location: str | torch.device = "cpu") -> DetectorLightning:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (setting ckpt_path)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(
            f"checkpoint {path} cannot be read safely ({type(err).__name__}: {str(err)[:200]}); "
            f"it is damaged, from another program, or holds arbitrary Python objects"
        ) from err
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hp, dict) or not ("head" in hp or "backbone" in hp) or "state_dict" not in ckpt:
        raise ValueError(f"checkpoint {path} is not a dsn checkpoint (no model hyperparameters or state dict)")
    state = ckpt["state_dict"]
    try:
        if is_flat(hp):  # written before the nested model config: same model, settings and weights moved
            hp, state = nest(hp), rename_state(state)
        weights = hp["features"].get("weights")
        module = module_for({**hp, "features": {**hp["features"], "weights": "none"}})  # weights: in the state
        module.load_state_dict(state, strict=True)
        module.hparams.features["weights"] = weights  # what it was trained from (its identity's digest)
    except (TypeError, RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"checkpoint {path} does not fit this version of dsn: {str(err)[:300]}") from err
    module.eval()
    module.trained_epochs = trained_epochs(ckpt)
    module.inputs = dict(ckpt.get("inputs", module.inputs))  # before 2026-12-06: always resize
    module.trained_under = ckpt.get("trained_under")  # None in older checkpoints
    return module


def trained_epochs(ckpt: dict) -> int:
    """Passes over the training data the checkpoint's weights have seen, from Lightning's loop state.

    Its ``epoch`` field is the index of the epoch during which the file was written, and the epoch
    counter ``processed`` is bumped only after ModelCheckpoint has saved at the end of a training
    epoch (what it does when validation does not run every epoch, as in the paper presets): a
    checkpoint whose epoch had run its last batch has seen ``started`` passes, not ``processed``.
    """
    try:
        loop = ckpt["loops"]["fit_loop"]
        epochs = loop["epoch_progress"]["current"]
        done = int(epochs["processed"])
        if loop["epoch_loop.batch_progress"].get("is_last_batch") and int(epochs["started"]) > done:
            done = int(epochs["started"])
        return done
    except (KeyError, TypeError, AttributeError):
        return int(ckpt.get("epoch", -1)) + 1


def save_final_checkpoint(trainer, output_dir: str | Path) -> None:
    """After a fit: a checkpoint of the final weights, unless the newest one already holds them.
    The checkpoint callback saves every 8th pass; a run of another length (or a baseline's single
    pass) would otherwise end with nothing for dsn-eval, dsn-predict or a resume to load. Only
    runs that keep a ``last.ckpt`` (``callbacks.model_checkpoint``) get one: sweeps that turned
    checkpoints off stay without."""
    ckpt_dir = Path(output_dir) / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    callback = trainer.checkpoint_callback
    if trainer.current_epoch < 1 or callback is None or not callback.save_last:
        return
    if last.is_file():
        try:
            held = trained_epochs(torch.load(last, map_location="cpu", weights_only=True, mmap=True))
        except Exception:  # a damaged newest checkpoint: write the final state beside it
            held = -1
        if held >= trainer.current_epoch:
            return
    name = f"epoch{trainer.current_epoch - 1:03d}.ckpt"
    trainer.save_checkpoint(ckpt_dir / name)
    link_last(ckpt_dir, name)
    if callback.save_top_k == 1:
        prune_checkpoints(ckpt_dir, keep=ckpt_dir / name)


def link_last(ckpt_dir: Path, name: str) -> None:
    """Point ``last.ckpt`` at ``name`` atomically (a relative link, as Lightning's own)."""
    tmp = ckpt_dir / f".last.ckpt.tmp{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(name)
    os.replace(tmp, ckpt_dir / "last.ckpt")


def prune_checkpoints(ckpt_dir: str | Path, keep: str | Path) -> None:
    """Remove every checkpoint file and link in ``ckpt_dir`` but ``keep`` and ``last.ckpt``: called
    only once ``keep`` is safely written, so a kill at any moment leaves a readable checkpoint."""
    keep = Path(keep).resolve()
    for p in Path(ckpt_dir).glob("*.ckpt"):
        if p.name != "last.ckpt" and (p.is_symlink() or p.resolve() != keep):
            p.unlink(missing_ok=True)


class NewestCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint that, when it keeps one checkpoint (``save_top_k=1``, no
    monitor), keeps exactly one across kills and resumes: the newest file and ``last.ckpt``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("enable_version_counter", False)  # one last.ckpt, never last-v1.ckpt
        super().__init__(**kwargs)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        last = Path(filepath).name.startswith(self.CHECKPOINT_NAME_LAST)
        if self.save_top_k == 1 and self.monitor is None and trainer.is_global_zero and not last:
            prune_checkpoints(Path(filepath).parent, keep=filepath)


class StreamingCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)  # remote file systems
        with atomic_path(path, size_hint=tensor_bytes(checkpoint)) as tmp:
            torch.save(checkpoint, tmp)


def tensor_bytes(obj) -> int:
    """Bytes of the tensors in a (nested) checkpoint: about its size on disk."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def require_squashed_inputs(module: DetectorLightning, path: str | Path, command: str) -> None:
    """``command`` feeds each image squashed to one square (data.input_policy=resize): refuse a
    checkpoint trained on padded or tiled inputs, whose scores would silently differ."""
    policy = module.inputs["input_policy"]
    if policy != "resize":
        raise ValueError(
            f"checkpoint {path} was trained with data.input_policy={policy}; {command} scores squashed "
            f"images only (input_policy=resize): score its images with dsn-predict or dsn-eval, which apply it"
        )
