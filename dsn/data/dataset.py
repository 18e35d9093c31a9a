"""The images of one split of one category, decoded once, served as dicts of tensors.

Detectors train and score on the features of views of these images
(:mod:`dsn.data.view_features`), made once per run; this dataset holds what those are made of
and what results are read against (labels, masks, the pictures figures draw).

Its items are the detector's inputs under ``input_policy`` (:mod:`dsn.data.input_policy`): one
per image for ``resize`` and ``pad``, one per tile for ``tile``; each names its image
(``"image_index"``), whose label it carries. Samples, labels and masks stay per image.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dsn.data.image_cache import load_inputs, load_stack
from dsn.data.images import DEFAULT_MAX_PIXELS
from dsn.data.input_policy import check_policy
from dsn.data.layout import Sample, test_samples, train_samples


class MVTecDataset(Dataset):
    """``split`` ("train" or "test") of ``category`` under ``root`` (MVTec AD layout).

    Items: ``{"image": uint8 [3, S, S], "label": 0/1, "index": i, "image_index": j}``.
    ``masks`` (test): uint8 [N, 1, S, S] per image, zeros where there is none. ``pictures``: each
    image squashed to S x S (what figures draw and masks are scored on).
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
        input_policy: str = "resize",
        tile_overlap: float = 0.25,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got '{split}'")
        self.category = category
        self.split = split
        self.samples: list[Sample] = (train_samples if split == "train" else test_samples)(root, category)
        paths = [s.path for s in self.samples]
        max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        check_policy(input_policy, tile_overlap)
        self.input_policy = input_policy
        self.images, self.image_of, self.boxes = load_inputs(
            paths, image_size, input_policy, tile_overlap, cache_dir, max_pixels
        )
        squashed = input_policy == "resize"
        self.pictures = self.images if squashed else load_stack(paths, image_size, "image", cache_dir, max_pixels)
        self.labels = torch.tensor([s.label for s in self.samples], dtype=torch.long)
        self.masks = (
            load_stack([s.mask for s in self.samples], image_size, "mask", cache_dir, max_pixels)
            if split == "test"
            else None
        )

    @property
    def n_images(self) -> int:
        return len(self.samples)

    def inputs_of(self, image: int) -> list[int]:
        """The items (inputs) of image ``image``, in order."""
        return torch.nonzero(self.image_of == image).flatten().tolist()

    def hold_out(self, fraction: float, seed: int) -> tuple[MVTecDataset, MVTecDataset | None]:
        """(rest, held-out) with a seeded ``fraction`` of the images held out; (self, None) for 0."""
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {fraction}")
        if fraction == 0.0:
            return self, None
        n_val = max(1, round(self.n_images * fraction))
        if n_val >= self.n_images:
            raise ValueError(f"data.val_fraction={fraction} leaves no training images out of {self.n_images}")
        order = torch.randperm(self.n_images, generator=torch.Generator().manual_seed(seed + 4_242)).tolist()
        return self._take(sorted(order[n_val:])), self._take(sorted(order[:n_val]))

    def _take(self, idx: list[int]) -> MVTecDataset:
        """The images ``idx`` (sorted) with their inputs, renumbered."""
        part = copy.copy(self)
        part.samples = [self.samples[i] for i in idx]
        part.labels = self.labels[idx]
        part.masks = self.masks[idx] if self.masks is not None else None
        renumber = torch.full((self.n_images,), -1, dtype=torch.long)
        renumber[idx] = torch.arange(len(idx))
        items = torch.nonzero(renumber[self.image_of] >= 0).flatten()
        part.image_of = renumber[self.image_of[items]]
        part.boxes = [self.boxes[i] for i in items.tolist()]
        part.images = self.images[items]
        part.pictures = part.images if self.input_policy == "resize" else self.pictures[idx]
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
        keep = sorted(search) if part == "search" else sorted(set(range(self.n_images)) - set(search))
        return self._take(keep)

    def __len__(self) -> int:
        return len(self.image_of)

    def item_of(self, i: int) -> dict[str, torch.Tensor]:
        """What every item of input ``i`` carries, whatever it serves of the input (its pixels
        here, its views' features in :mod:`dsn.data.view_features`): label, index, image."""
        image = self.image_of[i]
        return {"label": self.labels[image], "index": torch.tensor(i), "image_index": image}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[i], **self.item_of(i)}
