"""Which views of an image a detector sees: the rotations (and colour jitter) of its training
views, of the cached training bank, and of its test views.

A plain object built from a run's ``model.views`` settings, so that the Lightning modules, the
feature cache and the commands draw the same views from the same seeds (a resumed run, a cached
bank and a fresh render all agree).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from dsn.model.settings import check_keys
from dsn.model.views import JITTER_KNOBS, fixed_angles, jitter_factors, random_angles

ROTATION_MODES = ("nearest", "bilinear")
TEST_ANGLES = ("fixed", "random")


@dataclass(frozen=True)
class ViewPolicy:
    """``model.views``: ``rotation_mode`` interpolates rotated views; ``train_views`` views per
    image and step; ``train_rotations`` random rotations of training views (else upright);
    ``test_views`` T views per test image at ``test_angles`` (fixed: k*360/T; random: seeded);
    ``brightness``/``contrast``/``saturation``: colour jitter strengths of training views."""

    rotation_mode: str
    train_views: int
    train_rotations: bool
    test_views: int
    test_angles: str
    brightness: float
    contrast: float
    saturation: float

    def __post_init__(self):
        if self.rotation_mode not in ROTATION_MODES:
            raise ValueError(f"model.views.rotation_mode must be one of {ROTATION_MODES}, got {self.rotation_mode!r}")
        if self.test_angles not in TEST_ANGLES:
            raise ValueError(f"model.views.test_angles must be one of {TEST_ANGLES}, got {self.test_angles!r}")
        if not isinstance(self.train_rotations, bool):
            raise ValueError(f"model.views.train_rotations must be true or false, got {self.train_rotations!r}")
        for key in ("train_views", "test_views"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model.views.{key} must be an integer >= 1, got {value!r}")
        for knob in JITTER_KNOBS:
            value = getattr(self, knob)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"model.views.{knob} must be a number in [0.0, 1.0], got {value!r}")

    @classmethod
    def of(cls, settings) -> ViewPolicy:
        """From a mapping (a config node, a checkpoint's hyperparameters); every view setting must
        be given, and no other."""
        check_keys("model.views", settings, (f.name for f in fields(cls)))
        return cls(**dict(settings))

    @property
    def jitters(self) -> bool:
        """Whether training views get colour jitter."""
        return any(getattr(self, k) for k in JITTER_KNOBS)

    def _upright(self, n_views: int) -> int:
        """Views per image without rotations: one, unless colour jitter makes each differ."""
        return n_views if self.jitters else 1

    def test(self, indices: torch.Tensor, seed: int) -> torch.Tensor:
        """The T test rotations of each test image [B] -> [B, T] degrees (same for every run)."""
        t = self.test_views
        if self.test_angles == "fixed":
            return fixed_angles(t).expand(len(indices), t)
        gens = [torch.Generator().manual_seed(seed * 100_003 + int(i)) for i in indices]
        return torch.stack([random_angles((t,), g) for g in gens])

    def step(self, n_images: int, generator: torch.Generator) -> torch.Tensor:
        """Rotations of one training step rendered afresh: ``train_views`` per image."""
        if not self.train_rotations:
            return torch.zeros(n_images, self._upright(self.train_views))
        return random_angles((n_images, self.train_views), generator)

    def jitter(self, n_images: int, n_views: int, generator: torch.Generator) -> torch.Tensor | None:
        """Colour factors of training views [n_images, n_views, 3], or None without jitter."""
        if not self.jitters:
            return None
        f = jitter_factors(n_images * n_views, *(getattr(self, k) for k in JITTER_KNOBS), generator)
        return f.view(n_images, n_views, 3)

    def bank_views_per_image(self, bank_views: int) -> int:
        """How many views of each image the cached training bank holds: ``bank_views``, or one
        when every view would be the same upright image (no rotations, no jitter)."""
        return bank_views if self.train_rotations else self._upright(bank_views)

    def bank(self, n_images: int, bank_views: int, seed: int) -> torch.Tensor:
        """The rotations of the cached training bank: [n_images, bank_views] seeded random ones, or
        without ``train_rotations`` each image upright (once, or ``bank_views`` times with jitter)."""
        if not self.train_rotations:
            return torch.zeros(n_images, self.bank_views_per_image(bank_views))
        return random_angles((n_images, bank_views), torch.Generator().manual_seed(seed * 31 + 17))

    def bank_jitter(self, n_images: int, n_views: int, seed: int) -> torch.Tensor | None:
        """The colour factors of the bank's views (seeded; None without jitter)."""
        return self.jitter(n_images, n_views, torch.Generator().manual_seed(seed * 31 + 18))
