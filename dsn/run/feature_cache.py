"""The embed callables of a run's features DataModule, and the feature cache that stores what
they compute between runs.

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
from omegaconf import DictConfig

from dsn.data.datamodule import MVTecDataModule
from dsn.data.dataset import MVTecDataset
from dsn.data.features_datamodule import EmbedSplit, FeaturesDataModule
from dsn.lit.detector_module import DetectorLightning
from dsn.model.stack_features import embed_stack
from dsn.model.views import JITTER_KNOBS
from dsn.utils.tensor_cache import PartialRows, evict, load_entry, store_entry


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


def _cached_views(
    module: DetectorLightning,
    images: MVTecDataset,
    angles: torch.Tensor,
    name: str,
    extra: str,
    *,
    what: str,
    device,
    cache_dir: str | None,
    batch_images: int,
    save_every_s: float,
    jitter: torch.Tensor | None,
) -> torch.Tensor:
    """Features of ``angles`` [N, V] (colour factors ``jitter`` [N, V, 3]) of every input of
    ``images``, from the cache or computed once."""
    key = _key(module, images.images, angles, extra, jittered=jitter is not None)  # seed: in extra
    file = None if cache_dir is None else Path(cache_dir) / f"{name}-{key}.pt"

    def compute() -> torch.Tensor:
        progress = None if file is None else PartialRows(file, save_every_s)
        return embed_stack(
            module.model,
            images.images,
            angles,
            device=device,
            batch_images=batch_images,
            jitter=jitter,
            progress=progress,
            desc=f"features of the {what} images",
        )

    if file is None:
        return compute()
    value = load_entry(file)
    return value if value is not None else store_entry(file, compute())


def split_embedder(
    module: DetectorLightning,
    *,
    bank_views: int,
    seed: int,
    device,
    cache_dir: str | None,
    batch_images: int,
    save_every_s: float,
) -> EmbedSplit:
    """The embed callable of a run's :class:`FeaturesDataModule`: the training split as
    ``bank_views`` seeded random views per image (the view policy's ``bank`` and
    ``bank_jitter``), the held-out and test splits as the T fixed test views (exact: the views
    are fixed; never jittered)."""

    def embed(split: str, images: MVTecDataset) -> torch.Tensor:
        if split == "train":
            angles = module.views.bank(len(images), bank_views, seed)
            jitter, name, extra = (
                module.views.bank_jitter(*angles.shape, seed),
                "train-features",
                f"train:{bank_views}:{seed}",
            )
        else:
            angles, jitter, name, extra = module.test_angles(torch.arange(len(images))), None, "test-features", "test"
        return _cached_views(
            module,
            images,
            angles,
            name,
            extra,
            what=split,
            device=device,
            cache_dir=cache_dir,
            batch_images=batch_images,
            save_every_s=save_every_s,
            jitter=jitter,
        )

    return embed


def prepare_features(cfg: DictConfig, module: DetectorLightning, images: MVTecDataModule, stage: str, device):
    """The DataModule a run trains (``stage="fit"``) or tests (``"test"``) ``module`` with, its
    splits' features made on ``device`` (by ``cfg.feature_cache``: a cached training bank, or
    fresh views rendered every step); then the cache folders are trimmed to their cap. Training
    and ``dsn-eval`` share this stage."""
    fc = cfg.feature_cache
    embed = split_embedder(
        module,
        bank_views=fc.bank_views,
        seed=cfg.seed,
        device=device,
        cache_dir=fc.dir,
        batch_images=fc.batch_images,
        save_every_s=fc.save_every_s,
    )
    datamodule = FeaturesDataModule(images, embed, None if fc.train else module.fresh_views)
    datamodule.setup(stage)
    evict([cfg.data.cache_dir, fc.dir], fc.max_gb * 1e9)
    return datamodule
