"""One run directory, one owner, and nothing in it lost or silently replaced.

- :func:`run_dir_lock`: a run (``dsn-train``, ``dsn-eval``) holds an ``fcntl`` lock on
  ``<dir>/.dsn.lock`` for its whole life; a second run into the same directory stops at once
  naming the directory and the owner. The kernel drops the lock when its process dies, so a
  killed run's lock is taken over by the next start without any clean-up.
- :func:`resume_checkpoint`: the newest *readable* checkpoint in ``<dir>/checkpoints``, whatever
  ``last.ckpt`` says (Lightning deletes the previous epoch file before re-pointing the link, so a
  kill in between leaves it dangling); damaged files are skipped with a warning naming them, and
  temporary files of a killed write are removed.
- :func:`check_same_model`: a resume whose model settings differ from the checkpoint's stops
  before anything is trained or written.
- :func:`save_run_config`: the run's config is written into ``<dir>/.hydra/`` by dsn only after
  those checks (Hydra's own early write is switched off in ``conf/hydra/default.yaml``), so a
  refused rerun never overwrites a finished run's config.
"""

from __future__ import annotations

import fcntl
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from dsn.lit.checkpoints import trained_epochs
from dsn.lit.modules import effective_hparams, given_head_settings
from dsn.model.legacy_hparams import is_flat, nest
from dsn.results.run_folders import FAILURE_FILE, LOCK_FILE
from dsn.results.run_identity import flatten
from dsn.utils.atomic import write_json, write_text_atomic
from dsn.utils.secrets import redact

# hyperparameters that may differ on a resume: where the backbone weights were read from (they
# are inside the checkpoint) and the memory-bound chunk size (results do not depend on it)
MAY_DIFFER = frozenset({"features.weights", "features.chunk"})


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why and what to do."""


@contextmanager
def run_dir_lock(run_dir: str | Path) -> Iterator[Path]:
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    f = open(d / LOCK_FILE, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip() or "another process"
        f.close()
        raise RunDirError(
            f"run directory {d} is in use by {owner}: wait for that run to end, or give this "
            f"one its own directory (hydra.run.dir=...)"
        ) from None
    try:
        f.seek(0)
        f.truncate()
        f.write(f"PID {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        yield d
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def resume_checkpoint(run_dir: str | Path) -> Path | None:
    """The readable checkpoint in ``<run_dir>/checkpoints`` that has seen the most passes."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        return None
    for leftover in ckpt_dir.glob(".*.tmp*"):  # a write killed half-way (this run holds the lock)
        leftover.unlink(missing_ok=True)
    files = {p.resolve() for p in ckpt_dir.glob("*.ckpt") if p.resolve().is_file()}
    readable = []
    for path in files:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            readable.append((trained_epochs(ckpt), int(ckpt.get("global_step", 0)), path.stat().st_mtime, path))
        except Exception as err:
            warnings.warn(
                f"checkpoint {path} cannot be read ({type(err).__name__}): skipped; resuming from "
                f"the newest readable one",
                stacklevel=2,
            )
    return max(readable)[-1] if readable else None


def expected_hparams(cfg: DictConfig) -> dict:
    """The model hyperparameters this config builds (what a checkpoint stores)."""
    return effective_hparams(OmegaConf.to_container(cfg.model, resolve=True), given_head_settings())


def check_same_model(ckpt_path: str | Path, cfg: DictConfig) -> None:
    """Stop, naming the differing settings, when ``ckpt_path`` holds another model than ``cfg``."""
    stored = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True).get("hyper_parameters", {})
    stored = flatten(nest(stored) if is_flat(stored) else stored)
    wanted = flatten(expected_hparams(cfg))
    differ = sorted(k for k in wanted.keys() & stored.keys() if k not in MAY_DIFFER and wanted[k] != stored[k])
    if differ:
        key = {"seed": "seed", "category": "data.category", "image_size": "data.image_size"}
        was = ", ".join(f"{key.get(k, 'model.' + k)}={stored[k]}" for k in differ)
        now = ", ".join(f"{key.get(k, 'model.' + k)}={wanted[k]}" for k in differ)
        raise RunDirError(
            f"checkpoint {ckpt_path} was trained with {was}, this config asks for {now}: give the "
            f"new settings their own directory (hydra.run.dir=...), or start over in this one "
            f"with resume=false"
        )


def save_run_config(cfg: DictConfig, run_dir: str | Path) -> None:
    """``<run_dir>/.hydra/config.yaml`` (and Hydra's own config and the overrides, when run by
    Hydra), each written atomically and with any password in a URL masked (a sweep's storage)."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(run_dir) / ".hydra"
    files = {"config.yaml": cfg}
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        files["hydra.yaml"] = OmegaConf.create({"hydra": hydra_cfg})
        files["overrides.yaml"] = hydra_cfg.overrides.task
    for name, node in files.items():
        write_text_atomic(out / name, redact(OmegaConf.to_yaml(node)))


def record_failure(run_dir: str | Path, err: BaseException) -> None:
    """``<run_dir>/failure.json``: the error that ended this run, one line, for ``dsn-report``
    (which lists the run as failed until a later run of the directory writes its metrics)."""
    first = (str(err).strip().splitlines() or [""])[0]
    try:
        write_json(Path(run_dir) / FAILURE_FILE, {"error": f"{type(err).__name__}: {first}"[:500]})
    except OSError:  # no room to say so: the error itself is still raised and told
        pass


def clear_failure(run_dir: str | Path) -> None:
    (Path(run_dir) / FAILURE_FILE).unlink(missing_ok=True)
