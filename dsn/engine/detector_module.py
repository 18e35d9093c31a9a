"""What every detector's Lightning module shares: test views, scoring loops, AUROC logging, the
stored decision threshold and the learning curve kept in checkpoints.

Subclasses (:class:`dsn.engine.lightning_module.DifferLightning` for the flow,
:mod:`dsn.engine.memory_bank_module` for the same-feature baselines) call
``save_hyperparameters()`` with their own plain-valued arguments, then :meth:`_setup_detector`,
and define how they train.
"""

from __future__ import annotations

import time
import warnings

import lightning as L
import torch

from dsn.engine.threshold import NO_THRESHOLD, Decision
from dsn.model.registry import model_from_hparams
from dsn.model.views import JITTER_KNOBS, fixed_angles, jitter_factors, random_angles
from dsn.results.metrics import UndefinedAUROC, image_auroc


class DetectorLightning(L.LightningModule):
    def _setup_detector(self) -> None:
        if self.hparams.test_angles not in ("fixed", "random"):
            raise ValueError(f"model.test_angles must be 'fixed' or 'random', got '{self.hparams.test_angles}'")
        self.model = model_from_hparams(self.hparams)
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self.test_scores: torch.Tensor | None = None
        self.test_labels: torch.Tensor | None = None
        self.curve: list[tuple[int, float]] = []
        self.fit_stats: dict[str, float] = {}
        # (threshold, min, max, target FPR) of held-out good scores; NaN until set (dsn.engine.threshold)
        self.register_buffer("decision", torch.tensor(NO_THRESHOLD, dtype=torch.float64))
        self._fit_start: tuple[float, int] = (0.0, 0)

    @property
    def stored_decision(self) -> Decision:
        """The decision buffer, named (dsn.engine.threshold.Decision)."""
        return Decision.of(self.decision)

    # ---- views -------------------------------------------------------------------------
    def _step_generator(self) -> torch.Generator:
        """Randomness of one training step, a function of (seed, global_step): resumable."""
        return torch.Generator().manual_seed(self.hparams.seed * 7_919 + self.global_step)

    def test_angles(self, indices: torch.Tensor) -> torch.Tensor:
        """The T test rotations of each test image [B] -> [B, T] degrees (same for every run)."""
        t = self.hparams.test_views
        if self.hparams.test_angles == "fixed":
            return fixed_angles(t).expand(len(indices), t)
        gens = [torch.Generator().manual_seed(self.hparams.seed * 100_003 + int(i)) for i in indices]
        return torch.stack([random_angles((t,), g) for g in gens])

    @property
    def jitters(self) -> bool:
        """Whether training views get colour jitter (``model.brightness/contrast/saturation``)."""
        return any(self.hparams.get(k, 0.0) for k in JITTER_KNOBS)

    def view_jitter(self, n_images: int, n_views: int, generator: torch.Generator) -> torch.Tensor | None:
        """Colour factors of training views [n_images, n_views, 3], or None without jitter."""
        if not self.jitters:
            return None
        f = jitter_factors(n_images * n_views, *(self.hparams[k] for k in JITTER_KNOBS), generator)
        return f.view(n_images, n_views, 3)

    def _upright_views(self, n_views: int) -> int:
        """Views per image without ``train_rotations``: one, unless colour jitter makes each differ."""
        return n_views if self.jitters else 1

    def bank_angles(self, n_images: int, bank_views: int, seed: int) -> torch.Tensor:
        """The rotations of the cached training feature bank: [n_images, bank_views] seeded random
        rotations (the reference's training augmentation), or, without ``train_rotations``, each
        image upright (once, or ``bank_views`` times with colour jitter)."""
        if not self.hparams.get("train_rotations", True):
            return torch.zeros(n_images, self._upright_views(bank_views))
        return random_angles((n_images, bank_views), torch.Generator().manual_seed(seed * 31 + 17))

    def bank_jitter(self, n_images: int, n_views: int, seed: int) -> torch.Tensor | None:
        """The colour factors of the cached training bank's views (seeded; None without jitter):
        each banked view is jittered once, as each is rotated once."""
        return self.view_jitter(n_images, n_views, torch.Generator().manual_seed(seed * 31 + 18))

    def step_angles(self, n_images: int, generator: torch.Generator) -> torch.Tensor:
        """Rotations of one training step without the bank: ``train_views`` random ones per image,
        or upright views without ``train_rotations``."""
        if not self.hparams.get("train_rotations", True):
            return torch.zeros(n_images, self._upright_views(self.hparams.train_views))
        return random_angles((n_images, self.hparams.train_views), generator)

    def score_batch(self, batch: dict) -> torch.Tensor:
        """Anomaly scores of a test batch, from cached test features or from the images."""
        if "features" in batch:
            return self.model.score_features(batch["features"])
        return self.model.score(batch["image"], self.test_angles(batch["index"].cpu()).to(self.device))

    # ---- loops -------------------------------------------------------------------------
    def on_train_start(self) -> None:
        self._fit_start = (time.monotonic(), self.global_step)

    def on_train_end(self) -> None:
        """Training throughput of this fit (resumed steps excluded), for the metrics file."""
        seconds = time.monotonic() - self._fit_start[0]
        steps = self.global_step - self._fit_start[1]
        samples = (
            steps * self.trainer.datamodule.batch_size * self.hparams.train_views if self.trainer.datamodule else 0
        )
        self.fit_stats = {
            "fit_time_s": round(seconds, 2),
            "fit_steps": steps,
            "train_samples_per_s": round(samples / seconds, 1) if seconds > 0 else 0.0,
        }

    def _collect(self, batch: dict) -> None:
        self._scores.append(self.score_batch(batch).detach().float().cpu())
        self._labels.append(batch["label"].cpu())

    def _gather(self) -> tuple[torch.Tensor, torch.Tensor]:
        scores, labels = torch.cat(self._scores), torch.cat(self._labels)
        self._scores, self._labels = [], []
        return scores, labels

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._collect(batch)

    def on_validation_epoch_end(self) -> None:
        """Learning curve on the test set: logged for plots, never used to select anything."""
        scores, labels = self._gather()
        if self.trainer.sanity_checking:
            return
        try:
            auroc = image_auroc(scores, labels)
        except UndefinedAUROC:
            return
        self.curve.append((self.current_epoch + 1, auroc))
        self.log("curve/test_auroc", auroc)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._collect(batch)

    def on_test_epoch_end(self) -> None:
        self.test_scores, self.test_labels = self._gather()
        try:
            auroc = image_auroc(self.test_scores, self.test_labels)
        except UndefinedAUROC as err:
            warnings.warn(str(err), stacklevel=2)
            return
        self.log("test/auroc", auroc)
        if self.hparams.category:
            self.log(f"test/auroc/{self.hparams.category}", auroc)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["curve"] = list(self.curve)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.curve = [tuple(c) for c in checkpoint.get("curve", [])]
