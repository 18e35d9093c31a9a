"""The thin Lightning wrappers of the same-feature baselines (:mod:`dsn.model.knn_model`,
:mod:`dsn.model.patch_model`): "training" is one pass over the training images that stores their
features; there is no optimiser and no loss.

The pass runs through ``trainer.fit`` like the flow's, so checkpoints, resume, the decision
threshold, testing, reports and sweeps treat a baseline exactly as a flow run. It stops after
one epoch whatever ``trainer.max_epochs`` says (more passes over the same cached features would
store the same bank again), and a resumed fitted run does not pass again.
"""

from __future__ import annotations

import torch

from dsn.engine.detector_module import DetectorLightning
from dsn.model.memory_bank import RowStream


class MemoryBankLightning(DetectorLightning):
    """Shared driver; subclasses only list their hyperparameters."""

    def _setup_bank(self) -> None:
        self._setup_detector()
        self.automatic_optimization = False
        self._stream: RowStream | None = None

    def train_features(self, batch: dict) -> torch.Tensor:
        """[B, V, F]: every cached bank view of each image, or ``train_views`` fresh rotations
        (upright only, without ``train_rotations``) through the backbone."""
        if "features" in batch:
            return batch["features"]
        images = batch["image"]
        angles = self.step_angles(images.shape[0], self._step_generator())
        return self.model.embed(images, angles.to(images.device))

    def on_train_start(self) -> None:
        super().on_train_start()
        if self.model.memory.fitted:  # a resumed, finished fit: nothing to add
            self.trainer.should_stop = True

    def training_step(self, batch: dict, batch_idx: int) -> None:
        """Hand the batch's bank rows to the pass's :class:`RowStream` (sized from the first
        batch: every image gives as many rows), which keeps only what the bank will keep."""
        rows = self.model.bank_rows(self.train_features(batch))  # the stream detaches and moves to the CPU
        if self._stream is None:
            per_image = rows.shape[0] // batch["index"].shape[0]
            self._stream = self.model.memory.stream(per_image * len(self.trainer.train_dataloader.dataset))
        self._stream.add(rows)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After the epoch's last batch, before validation and checkpointing: build the bank."""
        if not self.trainer.is_last_batch:
            return
        rows, self._stream = self._stream.rows(), None
        self.model.memory.fit(rows)
        self.log("train/bank_rows", float(self.model.memory.rows.shape[0]), on_step=False, on_epoch=True)
        self.trainer.should_stop = True

    def configure_optimizers(self):
        return None


class KNNLightning(MemoryBankLightning):
    """Global kNN on the flow's features; arguments as ``conf/model/knn.yaml`` lists them."""

    def __init__(
        self,
        *,
        detector: str,
        backbone: str,
        n_features: int,
        n_scales: int,
        weights: str | None,
        rotation_mode: str,
        scale_mode: str,
        chunk: int,
        k: int,
        metric: str,
        bank_size: int | None,
        subsample: str,
        train_rotations: bool,
        train_views: int,
        test_views: int,
        test_angles: str,
        seed: int,
        category: str,
        name: str,
        image_size: int,
    ):
        super().__init__()
        if detector != "knn":
            raise ValueError(f"KNNLightning needs model.detector=knn, got {detector!r}")
        self.save_hyperparameters()
        self._setup_bank()


class PatchLightning(MemoryBankLightning):
    """PatchCore-style patch bank; arguments as ``conf/model/patchcore.yaml`` lists them."""

    def __init__(
        self,
        *,
        detector: str,
        backbone: str,
        patch_taps: list[int],
        weights: str | None,
        neighbourhood: int,
        grid: int,
        sigma: float,
        rotation_mode: str,
        chunk: int,
        k: int,
        metric: str,
        bank_size: int | None,
        subsample: str,
        train_rotations: bool,
        train_views: int,
        test_views: int,
        test_angles: str,
        seed: int,
        category: str,
        name: str,
        image_size: int,
    ):
        super().__init__()
        if detector != "patch":
            raise ValueError(f"PatchLightning needs model.detector=patch, got {detector!r}")
        patch_taps = [int(t) for t in patch_taps]  # plain values only: checkpoints load with weights_only
        self.save_hyperparameters()
        self._setup_bank()


MODULES = {"knn": KNNLightning, "patch": PatchLightning}
