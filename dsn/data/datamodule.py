"""LightningDataModule of one category's images in MVTec AD layout: its splits (training,
held-out good images for the threshold, test), their training order and loader settings. Runs
train and test through :class:`dsn.data.features_datamodule.FeaturesDataModule`, whose loaders
serve these splits' view features; this one holds the images.

The test set doubles as the periodic "curve" set (validation loop): it is scored for learning
curves only; nothing is ever selected on it.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from dsn.data.dataset import MVTecDataset
from dsn.data.sampler import EpochShuffleSampler


class MVTecDataModule(L.LightningDataModule):
    """Args:
    root: folder holding ``<category>/`` in MVTec AD layout.
    category: e.g. ``bottle``.
    image_size: square side images are resized to (448 in the paper).
    batch_size: training images per step (each is seen under several views: 24 x 4 = 96).
    test_batch_size: test images per scoring step.
    num_workers: DataLoader workers (images are decoded up front, so 0 is usually best).
    cache_dir: where decoded images are stored between runs (``None``: memory only).
    seed: fixes the shuffling order per epoch (and the validation split).
    val_fraction: share of ``train/good`` held out of training to set the decision threshold
        (0: none, as in the paper; e.g. 0.1 for deployment).
    max_pixels: larger images are refused from their header, before decoding (None: dsn's default).
    input_policy: how an image becomes square inputs: ``resize`` (squashed, the reference's),
        ``pad`` (aspect kept, padded) or ``tile`` (aspect kept, tiles overlapping by
        ``tile_overlap``; an image scores as its worst tile): :mod:`dsn.data.input_policy`.
    test_split: ``all`` test images, or for hyperparameter search the fixed ``search`` part
        (``search_fraction`` of them) or the ``final`` rest that reports the chosen setting.
    """

    def __init__(
        self,
        *,
        root: str,
        category: str,
        image_size: int,
        batch_size: int,
        test_batch_size: int,
        num_workers: int,
        cache_dir: str | None,
        seed: int,
        val_fraction: float,
        test_split: str,
        search_fraction: float,
        max_pixels: int | None,
        input_policy: str,
        tile_overlap: float,
    ):
        super().__init__()
        self.root = str(Path(root).expanduser())
        self.category = category
        self.image_size = image_size
        self.batch_size = batch_size
        self.test_batch_size = test_batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.seed = seed
        self.val_fraction = val_fraction
        self.test_split = test_split
        self.search_fraction = search_fraction
        self.max_pixels = max_pixels
        self.inputs = {"input_policy": input_policy, "tile_overlap": tile_overlap}
        self.train_set: MVTecDataset | None = None
        self.threshold_set: MVTecDataset | None = None  # held-out good images (data.val_fraction)
        self.test_set: MVTecDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            train = MVTecDataset(
                self.root,
                self.category,
                "train",
                image_size=self.image_size,
                cache_dir=self.cache_dir,
                max_pixels=self.max_pixels,
                **self.inputs,
            )
            self.train_set, self.threshold_set = train.hold_out(self.val_fraction, self.seed)
        if self.test_set is None:
            test = MVTecDataset(
                self.root,
                self.category,
                "test",
                image_size=self.image_size,
                cache_dir=self.cache_dir,
                max_pixels=self.max_pixels,
                **self.inputs,
            )
            self.test_set = test.test_part(self.test_split, self.search_fraction)

    def loader(self, dataset, batch_size: int, sampler=None) -> DataLoader:
        """A loader of ``dataset`` (a split's view features) with this data's worker settings."""
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_sampler(self, n: int) -> EpochShuffleSampler:
        """The training order: a function of the seed and the epoch (resumable)."""
        return EpochShuffleSampler(n, seed=self.seed)
