"""After the first pass of a fit, one line with the estimated time of the whole fit: a user of a
25-minute CPU run (or a 9-hour reference-style one) learns early whether to wait or to stop."""

from __future__ import annotations

import logging
import time

import lightning as L

from dsn.utils.progress_bar import duration

log = logging.getLogger("dsn.run.training")


class FitEstimate(L.Callback):
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start, self.first_epoch = time.monotonic(), trainer.current_epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # at the start of the second pass, not the end of the first: only now is that pass counted
        # as complete, so a checkpoint saved on a signal after this line resumes past it
        if trainer.current_epoch != self.first_epoch + 1 or trainer.should_stop:
            return  # not the second pass (a fitted head stops after its one pass and never gets here)
        left = trainer.max_epochs - trainer.current_epoch
        per_pass = time.monotonic() - self.start
        log.info(
            f"estimate: {duration(per_pass)} per pass, about {duration(per_pass * left)} more for the "
            f"{left} passes left (test-curve points every {trainer.check_val_every_n_epoch} passes add to it)"
        )
