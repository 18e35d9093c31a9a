"""The Lightning module of heads fitted once (memory banks, Gaussians: any
:class:`dsn.model.heads.FittedHead`): "training" is one pass over the training images that hands
every training row to the head; there is no optimiser and no loss.

The pass runs through ``trainer.fit`` like a flow's, so checkpoints, resume, the decision
threshold, testing, reports and sweeps treat a fitted head exactly as a trained one. It stops
after one epoch whatever ``trainer.max_epochs`` says (more passes over the same cached features
would fit the same head again), and a resumed fitted run does not pass again.
"""

from __future__ import annotations

import torch

from dsn.lit.detector_module import DetectorLightning
from dsn.model.memory_bank import RowStream


class FittedLightning(DetectorLightning):
    def __init__(self, **hparams):
        super().__init__(**hparams)
        self.automatic_optimization = False
        self._stream: RowStream | None = None

    def train_features(self, batch: dict) -> torch.Tensor:
        """[B, V, F]: every cached bank view of each image, or this step's fresh views."""
        return batch["views"]

    def on_train_start(self) -> None:
        super().on_train_start()
        if self.model.head.fitted:  # a resumed, finished fit: nothing to add
            self.trainer.should_stop = True

    def training_step(self, batch: dict, batch_idx: int) -> None:
        """Hand the batch's training rows to the pass's :class:`RowStream` (sized from the first
        batch: every image gives as many rows), which keeps only what the head will use."""
        head = self.model.head
        rows = head.rows(self.train_features(batch))  # the stream detaches and moves to the CPU
        if self._stream is None:
            per_image = rows.shape[0] // batch["index"].shape[0]
            self._stream = head.stream(per_image * len(self.trainer.train_dataloader.dataset))
        self._stream.add(rows)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After the epoch's last batch, before validation and checkpointing: fit the head."""
        if not self.trainer.is_last_batch:
            return
        rows, self._stream = self._stream.rows(), None
        self.model.head.fit(rows)
        self.log("train/bank_rows", float(self.model.head.size()["bank_rows"]), on_step=False, on_epoch=True)
        self.trainer.should_stop = True

    def configure_optimizers(self):
        return None
