"""What every Lightning module trains and scores on: the frozen backbone's features of views of
each input, served in one item format whichever way they were made.

A head never reads pixels: it reads ``"views"`` [V, F], the features of V views (rotations,
colour jitter) of one input. Two datasets serve them over an image dataset
(:class:`dsn.data.dataset.MVTecDataset`), with the same item
``{"views": [V, F], "label", "index", "image_index"}``:

- :class:`CachedViews`: rows computed once for the run (the feature cache: a seeded bank of
  training views, or the fixed test views), so the backbone runs once per run, not per epoch;
- :class:`FreshViews`: the uncached path (``feature_cache.train=false``, the reference's way):
  each batch's views are rendered afresh by a ``render`` callable, so every step sees new views.

The features come from callables handed in by the run (data imports no model code). A view set
reads as its image set otherwise (``labels``, ``masks``, ``samples``, ``pictures``, ``boxes``,
``inputs_of`` ...): figures and metrics need the images behind the scores.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from dsn.data.dataset import MVTecDataset

# (images uint8 [B, 3, S, S], the batch's item indices [B]) -> features [B, V, F] of this step's views
RenderViews = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _ViewsOf(Dataset):
    """Items of ``source`` with its views' features in place of its pixels."""

    def __init__(self, source: MVTecDataset):
        self.source = source

    def __getattr__(self, name: str):
        if name == "source":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.source, name)

    def __len__(self) -> int:
        return len(self.source)

    def _item(self, i: int, views: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"views": views, **self.source.item_of(i)}


class CachedViews(_ViewsOf):
    """``views`` [N, V, F]: one row per item of ``source``, in item order."""

    def __init__(self, source: MVTecDataset, views: torch.Tensor):
        super().__init__(source)
        if views.ndim != 3 or views.shape[0] != len(source):
            raise ValueError(
                f"view features {tuple(views.shape)} for {len(source)} inputs: want [inputs, views, features]"
            )
        self.views = views

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self._item(i, self.views[i])


class FreshViews(_ViewsOf):
    """Views rendered per batch by ``render`` (the backbone runs on the whole batch at once,
    through the DataLoader's batched fetch). The features may live on the accelerator, so its
    loader runs in the main process (``num_workers=0``, no pinning)."""

    def __init__(self, source: MVTecDataset, render: RenderViews):
        super().__init__(source)
        self.render = render

    def __getitems__(self, indices: list[int]) -> list[dict[str, torch.Tensor]]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        views = self.render(self.source.images[idx], idx)
        return [self._item(i, views[j]) for j, i in enumerate(indices)]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])[0]
