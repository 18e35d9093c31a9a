"""The images of one split of one category, decoded once, served as dicts of tensors.

A dataset serves either its images (``"image"``, uint8) or, after :meth:`use_features`,
precomputed feature vectors of fixed views of each image (``"features"``): the flow then
trains or scores on cached vectors and the frozen backbone runs once per run, not per epoch.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dsn.data.image_cache import load_stack
from dsn.data.images import DEFAULT_MAX_PIXELS
from dsn.data.layout import Sample, test_samples, train_samples


class MVTecDataset(Dataset):
    """``split`` ("train" or "test") of ``category`` under ``root`` (MVTec AD layout).

    Items: ``{"image": uint8 [3, S, S], "label": 0/1, "index": i}``; test items also carry
    ``"mask"`` (uint8 [1, S, S], zeros where there is none); after ``use_features`` the item
    holds ``"features"`` [V, F] instead of ``"image"``.
    """

    def __init__(
        self,
        root: str | Path,
        category: str,
        split: str,
        *,
        image_size: int,
        cache_dir: str | Path | None = None,
        max_pixels: int | None = None,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got '{split}'")
        self.category = category
        self.split = split
        self.samples: list[Sample] = (train_samples if split == "train" else test_samples)(root, category)
        paths = [s.path for s in self.samples]
        max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        self.images = load_stack(paths, image_size, "image", cache_dir, max_pixels)
        self.labels = torch.tensor([s.label for s in self.samples], dtype=torch.long)
        self.masks = (
            load_stack([s.mask for s in self.samples], image_size, "mask", cache_dir, max_pixels)
            if split == "test"
            else None
        )
        self.features: torch.Tensor | None = None

    def use_features(self, features: torch.Tensor) -> None:
        """Serve ``features`` [N, V, F] (one row per image, in sample order) instead of images."""
        if features.shape[0] != len(self):
            raise ValueError(f"{features.shape[0]} feature rows for {len(self)} images")
        self.features = features

    def hold_out(self, fraction: float, seed: int) -> tuple[MVTecDataset, MVTecDataset | None]:
        """(rest, held-out) with a seeded ``fraction`` of the images held out; (self, None) for 0."""
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {fraction}")
        if fraction == 0.0:
            return self, None
        n_val = max(1, round(len(self) * fraction))
        if n_val >= len(self):
            raise ValueError(f"data.val_fraction={fraction} leaves no training images out of {len(self)}")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed + 4_242)).tolist()
        return self._take(sorted(order[n_val:])), self._take(sorted(order[:n_val]))

    def _take(self, idx: list[int]) -> MVTecDataset:
        part = copy.copy(self)
        part.samples = [self.samples[i] for i in idx]
        part.images, part.labels = self.images[idx], self.labels[idx]
        part.masks = self.masks[idx] if self.masks is not None else None
        part.features = self.features[idx] if self.features is not None else None
        return part

    def test_part(self, part: str, fraction: float) -> MVTecDataset:
        """``"all"``, or a fixed split of the test images for hyperparameter search: ``"search"``
        (``fraction`` of each defect type and of the good images) or ``"final"`` (the rest). The
        split never changes with the run's seed, so every trial is scored on the same images."""
        if part == "all":
            return self
        if part not in ("search", "final"):
            raise ValueError(f"data.test_split must be all, search or final, got '{part}'")
        g = torch.Generator().manual_seed(20_241_004)
        by_type: dict[str, list[int]] = {}
        for i, smp in enumerate(self.samples):
            by_type.setdefault(smp.defect, []).append(i)
        search: list[int] = []
        for idx in by_type.values():
            order = torch.randperm(len(idx), generator=g).tolist()
            search += [idx[j] for j in order[: max(1, round(len(idx) * fraction))]]
        keep = sorted(search) if part == "search" else sorted(set(range(len(self))) - set(search))
        return self._take(keep)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = {"label": self.labels[i], "index": torch.tensor(i)}
        if self.features is not None:
            item["features"] = self.features[i]
        else:
            item["image"] = self.images[i]
        if self.masks is not None:
            item["mask"] = self.masks[i]
        return item
