"""What every detector shares: features of rotated views of an image, and scoring by views.

The flow (:class:`dsn.model.torch_model.DifferModel`) and the same-feature baselines
(:mod:`dsn.model.knn_model`, :mod:`dsn.model.patch_model`) differ only in what they put on top
of ``self.features`` and in :meth:`ViewEmbedder.view_scores`; rotating, normalising, chunking and
averaging over the test views are done here, once, so that a comparison between them compares
heads, never two copies of the view code.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch
from torch import nn

from dsn.model.views import jitter as apply_jitter
from dsn.model.views import normalize, rotate, to_unit


class ViewEmbedder(nn.Module):
    """Base class: subclasses set ``self.features`` (image batch -> [N, F]), ``rotation_mode``
    and ``chunk``, and implement :meth:`view_scores`."""

    features: nn.Module
    rotation_mode: str
    chunk: int

    @classmethod
    def from_hparams(cls, hparams: Mapping):
        """The model part of a run's hyperparameters (a config's ``model`` node, a checkpoint's)."""
        names = inspect.signature(cls.__init__).parameters.keys() - {"self"}
        return cls(**{k: hparams[k] for k in names})

    @property
    def device(self) -> torch.device:
        return next(self.features.parameters()).device

    def embed(
        self,
        images: torch.Tensor,
        angles: torch.Tensor,
        jitter: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features of each image under each of its rotations: images [B, 3, H, W] (uint8 or
        float in [0, 1]), angles [B, V] degrees -> [B, V, F]; ``jitter`` [B, V, 3], colour
        factors per view (:func:`dsn.model.views.jitter_factors`), None for none.

        Runs without autograd unless ``images`` requires grad (gradient maps)."""
        b, v = angles.shape
        if images.shape[0] != b:
            raise ValueError(f"{images.shape[0]} images but angles for {b}")
        if jitter is not None and jitter.shape != (b, v, 3):
            raise ValueError(f"jitter factors must be [{b}, {v}, 3] like the angles, got {tuple(jitter.shape)}")
        flat_jitter = None if jitter is None else jitter.reshape(-1, 3)
        track = images.requires_grad
        out = []
        with torch.set_grad_enabled(track and torch.is_grad_enabled()):
            flat_idx = torch.arange(b, device=images.device).repeat_interleave(v)
            flat_angles = angles.reshape(-1)
            for start in range(0, b * v, self.chunk):
                idx = flat_idx[start : start + self.chunk]
                out.append(
                    self.view_features(
                        to_unit(images[idx]),
                        flat_angles[start : start + self.chunk],
                        None if flat_jitter is None else flat_jitter[start : start + self.chunk],
                    )
                )
        return torch.cat(out).view(b, v, -1)

    def view_features(
        self,
        x: torch.Tensor,
        angles: torch.Tensor,
        jitter_factors: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One view per image: [N, 3, H, W] in [0, 1], angles [N], colour factors [N, 3] or
        None -> features [N, F]. Rotated first, then jittered (the reference's order)."""
        x = rotate(x, angles, self.rotation_mode)
        if jitter_factors is not None:
            x = apply_jitter(x, jitter_factors)
        return self.features(normalize(x))

    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each view: features [N, F] -> [N] (higher = more anomalous)."""
        raise NotImplementedError

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score per image: the mean over its T views. [B, T, F] -> [B]."""
        b, t, f = features.shape
        return self.view_scores(features.reshape(b * t, f)).view(b, t).mean(dim=1)

    def score(self, images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Anomaly score of each image over its views: images [B, 3, H, W], angles [B, T] -> [B]."""
        return self.score_features(self.embed(images, angles))

    def anomaly_map(self, image: torch.Tensor, n_rotations: int) -> torch.Tensor:
        """Where the score comes from: image [3, S, S] -> map [S, S] >= 0, on one scale for all
        images of a model (pixel metrics pool them; figures scale each map to draw it). By default
        the gradient map over ``n_rotations`` fixed rotations (the reference's method)."""
        from dsn.model.gradient_maps import gradient_map  # gradient_maps types its argument with this class

        return gradient_map(self, image, n_rotations)
