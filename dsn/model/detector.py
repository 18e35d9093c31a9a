"""A detector = a features module + a head (no Lightning, Hydra or W&B).

Data flows one way: image -> views (rotated, jittered) -> frozen features -> head -> view scores
-> an image's score, the mean over its views. Every head shares the view code here, so a
comparison between heads compares heads, never two copies of the view code. The constructor takes
plain values (a run's ``model.features``, ``model.head`` settings), so a checkpoint's
hyperparameters rebuild it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from dsn.model.extractors import build_features
from dsn.model.gradient_maps import gradient_map
from dsn.model.heads import build_head
from dsn.model.map_filters import blur
from dsn.model.views import jitter as apply_jitter
from dsn.model.views import normalize, rotate, to_unit


class Detector(nn.Module):
    """``features``: ``model.features`` settings; ``head``: ``model.head`` settings (with its
    ``kind``); ``rotation_mode``: interpolation of rotated views; ``seed``: the head's randomness."""

    def __init__(self, *, features: Mapping, head: Mapping, rotation_mode: str, seed: int):
        super().__init__()
        self.features, self.layout, self.chunk = build_features(features)
        self.head = build_head(head, self.layout, seed)
        self.rotation_mode = rotation_mode

    @classmethod
    def from_hparams(cls, hp: Mapping) -> Detector:
        """From a run's (nested) model hyperparameters: a config's ``model`` node, a checkpoint's."""
        return cls(
            features=hp["features"], head=hp["head"], rotation_mode=hp["views"]["rotation_mode"], seed=hp["seed"]
        )

    @property
    def device(self) -> torch.device:
        return next(self.features.parameters()).device

    def embed(self, images: torch.Tensor, angles: torch.Tensor, jitter: torch.Tensor | None = None) -> torch.Tensor:
        """Features of each image under each of its views: images [B, 3, H, W] (uint8 or float in
        [0, 1]), angles [B, V] degrees, ``jitter`` [B, V, 3] colour factors or None -> [B, V, F].
        Runs without autograd unless ``images`` requires grad (gradient maps)."""
        b, v = angles.shape
        if images.shape[0] != b:
            raise ValueError(f"{images.shape[0]} images but angles for {b}")
        if jitter is not None and jitter.shape != (b, v, 3):
            raise ValueError(f"jitter factors must be [{b}, {v}, 3] like the angles, got {tuple(jitter.shape)}")
        flat_jitter = None if jitter is None else jitter.reshape(-1, 3)
        out = []
        with torch.set_grad_enabled(images.requires_grad and torch.is_grad_enabled()):
            flat_idx = torch.arange(b, device=images.device).repeat_interleave(v)
            flat_angles = angles.reshape(-1)
            for start in range(0, b * v, self.chunk):
                part = slice(start, start + self.chunk)
                jit = None if flat_jitter is None else flat_jitter[part]
                out.append(self.view_features(to_unit(images[flat_idx[part]]), flat_angles[part], jit))
        return torch.cat(out).view(b, v, -1)

    def view_features(self, x: torch.Tensor, angles: torch.Tensor, jitter: torch.Tensor | None = None) -> torch.Tensor:
        """One view per image: [N, 3, H, W] in [0, 1], angles [N], colour factors [N, 3] or None ->
        features [N, F]. Rotated first, then jittered (the reference's order)."""
        x = rotate(x, angles, self.rotation_mode)
        if jitter is not None:
            x = apply_jitter(x, jitter)
        return self.features(normalize(x))

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each view: features [N, F] -> [N] (higher = more anomalous)."""
        return self.head.view_scores(features)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score per image: the mean over its T views. [B, T, F] -> [B]."""
        return self.score_features_and_rows(features)[0]

    def score_features_and_rows(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(anomaly score per image [B]: the mean of its T views' scores, the row scores of each
        image's first view [B, rows]) from [B, T, F]; on a patch grid the rows are what its map is
        made of (:meth:`rows_map`), so that a test does not search a large bank twice."""
        b, t, f = features.shape
        local = self.head.local_scores(features.reshape(b * t, f))
        return self.head.reduce(local).view(b, t).mean(dim=1), local.view(b, t, -1)[:, 0]

    def score(self, images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image over its views: images [B, 3, H, W], angles [B, T] -> [B]."""
        return self.score_features(self.embed(images, angles))

    def anomaly_map(self, image: torch.Tensor, n_rotations: int) -> torch.Tensor:
        """Where the score comes from: image [3, S, S] -> map [S, S] >= 0, on one scale for all
        images of a model. On a patch grid: the head's row scores of the upright image, upsampled
        and blurred (``n_rotations`` unused); else the gradient map over ``n_rotations`` fixed
        rotations (the reference's method)."""
        if self.layout.grid is None:
            return gradient_map(self, image, n_rotations)
        with torch.no_grad():
            x = image.to(self.device).unsqueeze(0)
            return self.patch_map(self.embed(x, torch.zeros(1, 1, device=x.device))[0, 0], image.shape[-1])

    def patch_map(self, features: torch.Tensor, side: int) -> torch.Tensor:
        """On a patch grid: the map [side, side] of one upright view's features [F]."""
        with torch.no_grad():
            return self.rows_map(self.head.local_scores(features.reshape(1, -1).to(self.device))[0], side)

    def rows_map(self, local: torch.Tensor, side: int) -> torch.Tensor:
        """On a patch grid: the map [side, side] of one upright view's row scores [rows],
        upsampled and blurred; from scores the test kept, it costs no backbone pass and no search."""
        g = self.layout.grid
        m = F.interpolate(local.to(self.device).view(1, 1, g, g), size=(side, side), mode="bilinear")
        return (blur(m, self.head.map_sigma) if self.head.map_sigma > 0 else m)[0, 0]

    def size(self) -> dict[str, int]:
        """Backbone parameters, head parameters (flow_params for a flow) and bank rows."""
        return {
            "backbone_params": sum(p.numel() for p in self.features.parameters()),
            "flow_params": 0,
            **self.head.size(),
        }
