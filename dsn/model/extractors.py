"""The features part of a detector, from its ``model.features`` settings.

Two kinds: ``pooled`` (the paper's: the frozen backbone at n scales, each map averaged, the
vectors concatenated; one row per view) and ``patches`` (PatchCore's: a grid of locally averaged
patch features; grid x grid rows per view). A head sees a view's features as ``rows`` rows of
``width`` values (:class:`FeatureLayout`), so one head works on either kind.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

from dsn.model.backbones import build_backbone
from dsn.model.features import MultiScaleFeatures
from dsn.model.patch_features import PatchFeatures
from dsn.model.settings import check_keys


@dataclass(frozen=True)
class FeatureLayout:
    """A view's feature vector is ``rows`` rows of ``width`` (row-major); ``grid`` is the side of
    the square raster the rows tile (None for a pooled vector)."""

    rows: int
    width: int
    grid: int | None = None

    @property
    def size(self) -> int:
        return self.rows * self.width


def _pooled(backbone: str, n_features: int, n_scales: int, scale_mode: str, weights: str | None) -> nn.Module:
    return MultiScaleFeatures(
        build_backbone(backbone, n_features, weights), width=n_features, n_scales=n_scales, scale_mode=scale_mode
    )


def _patches(backbone: str, taps: list[int], neighbourhood: int, grid: int, weights: str | None) -> nn.Module:
    return PatchFeatures(backbone, taps=list(taps), weights=weights, neighbourhood=neighbourhood, grid=grid)


KINDS = {"pooled": _pooled, "patches": _patches}


def check_feature_keys(settings: Mapping) -> None:
    """``model.features`` names a known ``kind`` and gives exactly that kind's settings (besides
    ``kind`` and ``chunk``, which every kind has)."""
    kind = settings.get("kind")
    if kind not in KINDS:
        raise ValueError(f"model.features.kind must be one of {sorted(KINDS)}, got {kind!r}")
    check_keys("model.features", set(settings) - {"kind", "chunk"}, inspect.signature(KINDS[kind]).parameters, kind)


def build_features(settings: Mapping) -> tuple[nn.Module, FeatureLayout, int]:
    """(module: normalised images [N, 3, H, W] -> [N, layout.size], its layout, views per backbone
    pass) of ``model.features``. Every setting of the kind must be given, and no other."""
    check_feature_keys(settings)
    settings = dict(settings)
    kind, chunk = settings.pop("kind"), settings.pop("chunk", None)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"model.features.chunk must be an integer >= 1, got {chunk!r}")
    module = KINDS[kind](**settings)
    if kind == "patches":
        layout = FeatureLayout(rows=module.grid * module.grid, width=module.channels, grid=module.grid)
    else:
        layout = FeatureLayout(rows=1, width=module.out_features)
    return module, layout, chunk
