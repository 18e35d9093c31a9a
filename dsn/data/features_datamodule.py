"""The DataModule a Lightning module is trained and tested with: a category's images
(:class:`dsn.data.datamodule.MVTecDataModule`) seen through the run's embed callables, so every
batch holds view features (:mod:`dsn.data.view_features`) and no module branches on what a
batch holds.

``setup`` makes the features of each split once: that is the feature-cache stage of a run, and
the run calls it itself (before ``trainer.fit``) to time it and to fail early; Lightning's own
``setup`` calls then find the splits ready.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader

from dsn.data.datamodule import MVTecDataModule
from dsn.data.dataset import MVTecDataset
from dsn.data.view_features import CachedViews, FreshViews, RenderViews

# (split: "train", "held-out" or "test"; its image set) -> features [inputs, views, F], computed
# or read from the feature cache by the run (dsn.run.feature_cache)
EmbedSplit = Callable[[str, MVTecDataset], torch.Tensor]


class FeaturesDataModule(L.LightningDataModule):
    """``images``: the image splits. ``embed``: the features of a split's fixed views (the
    training bank, the test views). ``render``: this batch's training views, for a run without a
    training bank (None: the training split is embedded once like the others)."""

    def __init__(self, images: MVTecDataModule, embed: EmbedSplit, render: RenderViews | None):
        super().__init__()
        self.images = images
        self.embed = embed
        self.render = render
        self.train_set: CachedViews | FreshViews | None = None
        self.threshold_set: CachedViews | None = None  # held-out good images, scored on test views
        self.test_set: CachedViews | None = None

    @property
    def batch_size(self) -> int:
        return self.images.batch_size

    @property
    def inputs(self) -> dict:
        return self.images.inputs

    def setup(self, stage: str | None = None) -> None:
        self.images.setup(stage)
        if stage in (None, "fit") and self.train_set is None:
            train = self.images.train_set
            self.train_set = FreshViews(train, self.render) if self.render else self._cached("train", train)
            held = self.images.threshold_set
            self.threshold_set = None if held is None else self._cached("held-out", held)
        if self.test_set is None:
            self.test_set = self._cached("test", self.images.test_set)

    def _cached(self, split: str, images: MVTecDataset) -> CachedViews:
        return CachedViews(images, self.embed(split, images))

    def train_dataloader(self) -> DataLoader:
        sampler = self.images.train_sampler(len(self.train_set))
        if isinstance(self.train_set, FreshViews):  # rendered on the accelerator: main process, no pinning
            return DataLoader(self.train_set, batch_size=self.batch_size, sampler=sampler)
        return self.images.loader(self.train_set, self.batch_size, sampler)

    def val_dataloader(self) -> DataLoader:
        return self.images.loader(self.test_set, self.images.test_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.images.loader(self.test_set, self.images.test_batch_size)
