"""Prepare the cached features a run trains and scores on, and store them between runs.

The test views are deterministic, so caching them is exact. The training bank holds
``bank_views`` random rotations per image (seeded, each with its own seeded colour jitter when
the model jitters); each step then samples ``train_views`` of them, instead of rendering fresh
views through the backbone. Entries on disk are keyed by
the image bytes, the angles and the backbone's weights and settings; while one is computed, the
images done so far are kept beside it every ``save_every_s`` seconds, so a killed run takes them up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from dsn.data.dataset import MVTecDataset
from dsn.lit.detector_module import DetectorLightning
from dsn.model.stack_features import embed_stack
from dsn.model.views import JITTER_KNOBS
from dsn.utils.tensor_cache import PartialRows, cached_tensor


def _key(module: DetectorLightning, images: torch.Tensor, angles: torch.Tensor, extra: str, jittered: bool) -> str:
    """The features' settings (all but where the weights came from and the chunk size; the
    weights themselves are hashed), the rotation mode, the colour jitter of jittered views, the
    images and the angles: a kNN reuses the flow's cached views of the same features, and the
    test views (never jittered) are shared by runs that differ only in training jitter."""
    feats = {k: v for k, v in module.hparams.features.items() if k not in ("weights", "chunk")}
    views = module.views
    colour = ":".join(str(getattr(views, k) if jittered else 0.0) for k in JITTER_KNOBS)
    h = hashlib.sha256(f"{sorted(feats.items())}:{views.rotation_mode}:{colour}:{extra}".encode())
    h.update(images.numpy().tobytes())
    h.update(angles.numpy().tobytes())
    for t in module.model.features.state_dict().values():
        h.update(t.cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def _serve_views(
    module: DetectorLightning,
    dataset: MVTecDataset,
    angles: torch.Tensor,
    name: str,
    extra: str,
    *,
    device,
    cache_dir: str | None,
    batch_images: int,
    save_every_s: float,
    jitter: torch.Tensor | None,
) -> None:
    """Features of ``angles`` [N, V] (colour factors ``jitter`` [N, V, 3]) of every image of
    ``dataset``, from the cache or computed once; the dataset then serves these vectors instead
    of its images."""
    key = _key(module, dataset.images, angles, extra, jittered=jitter is not None)  # seed: in extra
    file = None if cache_dir is None else Path(cache_dir) / f"{name}-{key}.pt"

    def compute() -> torch.Tensor:
        progress = None if file is None else PartialRows(file, save_every_s)
        return embed_stack(
            module.model,
            dataset.images,
            angles,
            device=device,
            batch_images=batch_images,
            jitter=jitter,
            progress=progress,
            desc=f"features of the {name.split('-')[0]} images",
        )

    feats = compute() if file is None else cached_tensor(file, compute)
    dataset.use_features(feats)


def cache_test_features(
    module: DetectorLightning,
    test_set: MVTecDataset,
    *,
    device,
    cache_dir: str | None,
    batch_images: int,
    save_every_s: float,
) -> None:
    """The T fixed test views of every test image, computed once (exact: the views are fixed)."""
    angles = module.test_angles(torch.arange(len(test_set)))
    _serve_views(
        module,
        test_set,
        angles,
        "test-features",
        "test",
        device=device,
        cache_dir=cache_dir,
        batch_images=batch_images,
        save_every_s=save_every_s,
        jitter=None,  # test views are never jittered
    )


def cache_train_features(
    module: DetectorLightning,
    train_set: MVTecDataset,
    *,
    bank_views: int,
    seed: int,
    device,
    cache_dir: str | None,
    batch_images: int,
    save_every_s: float,
) -> None:
    """``bank_views`` seeded random views of every training image (the view policy's ``bank``
    and ``bank_jitter``), computed once."""
    angles = module.views.bank(len(train_set), bank_views, seed)
    jitter = module.views.bank_jitter(*angles.shape, seed)
    _serve_views(
        module,
        train_set,
        angles,
        "train-features",
        f"train:{bank_views}:{seed}",
        device=device,
        cache_dir=cache_dir,
        batch_images=batch_images,
        save_every_s=save_every_s,
        jitter=jitter,
    )
