"""Checkpoint files: written straight to disk atomically, and loaded safely without Hydra.

Writing: Lightning's default writer serialises the whole checkpoint into memory first and then
copies that buffer again on writing: for the paper's 153 M-parameter flow with its Adam state
(1.8 GB) that is 3.6 GB of transient copies, most of a training run's peak memory.
:class:`StreamingCheckpointIO` streams ``torch.save`` into a temporary file beside the target and
renames it into place, so a killed run leaves the old checkpoint or the new one, never half a
file, and no copy in memory.

Loading: checkpoints are read with ``weights_only=True`` (no arbitrary objects are unpickled), and
the backbone is rebuilt without downloading: its weights are inside the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from dsn.engine.lightning_module import DifferLightning
from dsn.utils.atomic import write_atomic

REQUIRED_HPARAMS = ("backbone", "n_features", "n_scales", "n_blocks", "hidden")


def load_module(path: str | Path, map_location: str | torch.device = "cpu") -> DifferLightning:
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
    if not isinstance(hp, dict) or any(k not in hp for k in REQUIRED_HPARAMS) or "state_dict" not in ckpt:
        raise ValueError(f"checkpoint {path} is not a dsn checkpoint (no model hyperparameters or state dict)")
    hp = {**hp, "weights": "none"}  # the backbone's weights come from the state dict below
    try:
        module = DifferLightning(**hp)
        module.load_state_dict(ckpt["state_dict"], strict=True)
    except (TypeError, RuntimeError) as err:
        raise ValueError(f"checkpoint {path} does not fit this version of dsn: {str(err)[:300]}") from err
    module.eval()
    module.trained_epochs = trained_epochs(ckpt)
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


class StreamingCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)  # remote file systems
        write_atomic(path, lambda tmp: torch.save(checkpoint, tmp))
