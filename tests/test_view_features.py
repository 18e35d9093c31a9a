"""The feature stage as data: every Lightning module reads one batch format (``"views"``), made
once per split by the run's embed callable (the feature cache) or rendered per batch on the
uncached path (``feature_cache.train=false``), which is a dataset of its own."""

import pytest
import torch
from conftest import DEBUG, compose, image_datamodule
from torch.utils.data import DataLoader

from dsn.data.dataset import MVTecDataset
from dsn.data.features_datamodule import FeaturesDataModule
from dsn.data.view_features import CachedViews, FreshViews
from dsn.train import train

ITEM = {"views", "label", "index", "image_index"}


def test_cached_and_fresh_views_serve_one_item_format(toy_root):
    images = MVTecDataset(toy_root, "toy", "test", image_size=16)
    cached = CachedViews(images, torch.randn(len(images), 3, 5))
    calls = []

    def render(batch_images, index):
        calls.append(index.tolist())
        return batch_images.float().mean(dim=(1, 2, 3))[:, None, None].expand(-1, 2, 5) + index[:, None, None]

    fresh = FreshViews(images, render)
    assert set(cached[4]) == set(fresh[4]) == ITEM and cached[4]["label"] == images.labels[4] == 1
    calls.clear()
    batches = list(DataLoader(fresh, batch_size=4))  # the backbone sees each batch at once
    assert calls == [[0, 1, 2, 3], [4, 5]] and batches[0]["views"].shape == (4, 2, 5)
    assert batches[1]["index"].tolist() == [4, 5] and batches[1]["label"].tolist() == [1, 1]
    assert cached.n_images == 6 and cached.masks is images.masks  # reads as its image set otherwise
    with pytest.raises(ValueError, match=r"view features \(5, 3, 5\) for 6 inputs"):
        CachedViews(images, torch.randn(5, 3, 5))


def test_features_datamodule_embeds_each_split_once_and_lightning_finds_them_ready(toy_root):
    embedded = []

    def embed(split, images):
        embedded.append((split, len(images)))
        return torch.zeros(len(images), 3 if split == "train" else 2, 4)

    dm = FeaturesDataModule(image_datamodule(toy_root, val_fraction=0.34), embed, None)
    dm.setup("fit")
    dm.setup("fit")  # Lightning's own call inside trainer.fit
    dm.setup("test")
    assert embedded == [("train", 4), ("held-out", 2), ("test", 6)]
    assert next(iter(dm.train_dataloader()))["views"].shape == (2, 3, 4)
    assert next(iter(dm.test_dataloader()))["views"].shape == (4, 2, 4)
    fresh = FeaturesDataModule(image_datamodule(toy_root), embed, lambda imgs, idx: torch.ones(len(idx), 2, 4))
    fresh.setup("fit")
    assert isinstance(fresh.train_set, FreshViews) and fresh.threshold_set is None
    assert [s for s, _ in embedded[3:]] == ["test"]  # no bank is built for fresh views
    assert next(iter(fresh.train_dataloader()))["views"].shape == (2, 2, 4)


def test_the_uncached_path_is_reproducible_and_draws_new_views_each_epoch(tmp_path, toy_root):
    """Fresh views are a function of (seed, epoch, the batch): the same run twice gives the same
    scores, although Lightning fetches each batch one step ahead of training on it."""
    first = train(compose("train", [*DEBUG, f"data.root={toy_root}", "feature_cache.train=false"], tmp_path / "a"))
    again = train(compose("train", [*DEBUG, f"data.root={toy_root}", "feature_cache.train=false"], tmp_path / "b"))
    assert first["train_path"] == "plain" and first["scores"] == again["scores"]
    from dsn.lit.checkpoints import load_module

    module = load_module(tmp_path / "a" / "checkpoints" / "last.ckpt")
    imgs, idx = MVTecDataset(toy_root, "toy", "train", image_size=32).images[:3], torch.tensor([2, 0, 1])
    views = module.fresh_views(imgs, idx)
    assert views.shape[:2] == (3, module.views.train_views)
    torch.testing.assert_close(module.fresh_views(imgs, idx), views)  # a function of its inputs
    assert not torch.equal(module.fresh_views(imgs, torch.tensor([0, 2, 1])), views)  # another batch
