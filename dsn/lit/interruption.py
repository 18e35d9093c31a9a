"""A run stopped by a signal keeps its work and says so.

SLURM sends SIGTERM on ``scancel``, on preemption and at the time limit (and submitit's jobs ask
for SIGUSR2 shortly before the time limit). Lightning turns SIGTERM into an exception that ends
the fit as if it had succeeded (exit status 0) and saves nothing, and ignores SIGUSR2. Here SIGUSR2
stops the fit the same way, and
:class:`SaveOnSignal` writes a checkpoint of the state at that moment into the run's
``checkpoints/`` (the same command resumes from it), and :func:`stopped_by_signal` turns the
exception into :class:`Interrupted`: one line, exit status 143 for a single run, and in a sweep a
trial that is resumed with the same number and parameters instead of failed.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dsn.lit.checkpoints import link_last, prune_checkpoints, trained_epochs

EXIT_STATUS = 143  # 128 + SIGTERM, what a scheduler expects of a process it terminated


class Interrupted(RuntimeError):
    """The run was stopped by a signal after saving a checkpoint; the same command resumes it."""

    one_line = True
    infrastructure = True  # not the trial's fault: a sweep resumes it rather than failing it


class SaveOnSignal(Callback):
    """On SIGTERM or SIGUSR2, a checkpoint of the current state in ``<run>/checkpoints/``."""

    def __init__(self, output_dir: str | Path):
        self.ckpt_dir = Path(output_dir) / "checkpoints"
        self.saved: Path | None = None
        self.signal_name = "SIGTERM"
        self._previous = None

    def on_fit_start(self, trainer, pl_module) -> None:
        if threading.current_thread() is threading.main_thread():  # Python's rule for handlers

            def stop_as_for_sigterm(signum, frame) -> None:
                self.signal_name = "SIGUSR2"
                # Lightning's own flag: its loops stop after the current batch, as for SIGTERM
                trainer._signal_connector.received_sigterm = True

            self._previous = signal.signal(signal.SIGUSR2, stop_as_for_sigterm)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR2, self._previous)
            self._previous = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        if trainer.testing:  # the fit is over and its checkpoint written: that is what resumes
            last = self.ckpt_dir / "last.ckpt"
            self.saved = last.resolve() if last.exists() else None
            return
        if trainer.global_step == 0:
            return
        path = self.ckpt_dir / f"interrupted-step{trainer.global_step:07d}.ckpt"
        trainer.save_checkpoint(path)
        link_last(self.ckpt_dir, path.name)
        prune_checkpoints(self.ckpt_dir, keep=path)
        self.saved = path


def stopped_by_signal(trainer, callback: SaveOnSignal, output_dir: str | Path) -> Interrupted:
    """The one-line error for a fit that SIGTERM stopped."""
    import torch

    if callback.saved is None:
        return Interrupted(f"stopped by {callback.signal_name} before the first step; run directory {output_dir}")
    passes = trained_epochs(torch.load(callback.saved, map_location="cpu", weights_only=True, mmap=True))
    return Interrupted(
        f"stopped by {callback.signal_name} after {passes} complete pass(es) (step {trainer.global_step}); checkpoint "
        f"{callback.saved} kept: the same command (hydra.run.dir={output_dir}) resumes from it"
    )
