"""The head protocol: what sits on a detector's frozen features and turns them into scores.

A head is built from its layout (a view = ``layout.rows`` rows of ``layout.width`` features), the
run's seed and its own ``model.head`` settings (keyword arguments). It scores views
(:meth:`Head.view_scores`, higher = more anomalous) and may score a view's rows separately
(:meth:`Head.local_scores`, for anomaly maps on a patch grid). How it learns is one of two styles:

- :class:`GradientHead`: trained by gradient steps on :meth:`GradientHead.loss` (the flow);
- :class:`FittedHead`: fitted once from every training row (:meth:`FittedHead.fit`; a memory bank).

Each concrete head sets ``kind`` (its ``model.head.kind`` name) and ``tiny`` (the settings of its
smallest useful size, which ``model.tiny=true``, set by ``debug=default``, puts over the preset's).
Subclasses register themselves: the registry (:mod:`dsn.model.heads`) finds every head module in
this folder, so a new head is one new file.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import torch
from torch import nn

from dsn.model.extractors import FeatureLayout
from dsn.model.memory_bank import RowStream

REGISTERED: dict[str, type[Head]] = {}


class Head(nn.Module):
    kind: ClassVar[str] = ""
    training_style: ClassVar[str] = ""  # "gradient" or "fitted"
    tiny: ClassVar[dict] = {}
    map_sigma: float = 0.0  # Gaussian blur (pixels) of anomaly maps made from local scores

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            REGISTERED[cls.kind] = cls

    def __init__(self, layout: FeatureLayout, seed: int):
        super().__init__()
        self.layout = layout
        self.seed = seed

    @classmethod
    def settings(cls) -> list[str]:
        """The names of this head's ``model.head`` settings (its keyword-only arguments)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.kind is p.KEYWORD_ONLY]

    def rows(self, features: torch.Tensor) -> torch.Tensor:
        """Views [..., rows * width] -> rows [n, width]."""
        return features.reshape(-1, self.layout.width)

    def local_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Score of each row of each view: [N, rows * width] -> [N, rows]."""
        raise NotImplementedError

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Score of each view, [N, rows * width] -> [N]: :meth:`reduce` of its row scores."""
        return self.reduce(self.local_scores(features))

    def reduce(self, local: torch.Tensor) -> torch.Tensor:
        """A view's score from its row scores, [N, rows] -> [N]: its most anomalous row (one row:
        itself). Apart from :meth:`local_scores` so that a test can keep the rows for the maps."""
        return local[:, 0] if local.shape[1] == 1 else local.max(dim=1).values

    def size(self) -> dict[str, int]:
        """Trainable parameters and stored training rows (for reports and dsn-size)."""
        return {"head_params": sum(p.numel() for p in self.parameters()), "bank_rows": 0, "bank_width": 0}


class GradientHead(Head):
    """Trained by gradient steps on :meth:`loss` (the optimiser: ``model.optimizer``)."""

    training_style = "gradient"

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        """The training objective on views [N, rows * width] (a scalar)."""
        raise NotImplementedError


class FittedHead(Head):
    """Fitted once from every training row: :meth:`stream` collects a pass's rows (keeping only
    what the fit will use), :meth:`fit` takes them. ``fitted`` says whether it has been."""

    training_style = "fitted"

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def stream(self, total: int) -> RowStream:
        """Where a pass of ``total`` training rows goes before :meth:`fit` (default: keep all)."""
        return RowStream(total, size=None, method="all", seed=self.seed)

    def fit(self, rows: torch.Tensor) -> None:
        raise NotImplementedError
