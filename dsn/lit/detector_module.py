"""What every detector's Lightning module shares: the composed detector, its view policy, the
scoring loops, AUROC logging, the stored decision threshold and the learning curve kept in
checkpoints.

One subclass per training style (:mod:`dsn.lit.gradient_module` for heads trained by gradient
steps, :mod:`dsn.lit.fitted_module` for heads fitted once); :func:`dsn.lit.modules.module_for`
picks it from the head. Hyperparameters are the run's nested ``model`` settings, plain values
(``save_hyperparameters``), so a checkpoint rebuilds the module without Hydra.
"""

from __future__ import annotations

import time
import warnings

import lightning as L
import torch

from dsn.data.input_policy import max_per_image
from dsn.model.detector import Detector
from dsn.model.view_policy import ViewPolicy
from dsn.results.metrics import UndefinedAUROC, image_auroc
from dsn.results.threshold import NO_THRESHOLD, Decision


class DetectorLightning(L.LightningModule):
    """Every argument is required and given by keyword: the values live in ``conf/model/``
    only (``seed``, ``category`` and ``image_size`` by interpolation from the run's config), or
    in a checkpoint's hyperparameters. ``optimizer``: the settings of a gradient-trained head
    (None for a fitted one)."""

    def __init__(
        self,
        *,
        name: str,
        features: dict,
        views: dict,
        head: dict,
        seed: int,
        category: str | None,
        image_size: int,
        optimizer: dict | None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.views = ViewPolicy.of(views)
        self.model = Detector.from_hparams(self.hparams)
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._images: list[torch.Tensor] = []
        # how the data made the inputs (data.input_policy, data.tile_overlap), kept in checkpoints
        self.inputs = {"input_policy": "resize", "tile_overlap": 0.0}
        # the training run's data, trainer and feature-cache settings that define its result (its
        # identity's sections), kept in checkpoints: a dsn-eval of it is then told apart by what it
        # changed (test split, test views, score quantile), not by the eval command's own defaults
        self.trained_under: dict | None = None
        self.test_scores: torch.Tensor | None = None
        self.test_labels: torch.Tensor | None = None
        # on a patch grid, the row scores of each test input's first view [inputs, rows], by item
        # index: its anomaly map is made of them (dsn.results.run_figures), no second bank search
        self.test_rows: torch.Tensor | None = None
        self._rows: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.curve: list[tuple[int, float]] = []
        self.fit_stats: dict[str, float] = {}
        # (threshold, min, max, target FPR) of held-out good scores; NaN until set (dsn.results.threshold)
        self.register_buffer("decision", torch.tensor(NO_THRESHOLD, dtype=torch.float64))
        self._fit_start: tuple[float, int] = (0.0, 0)

    @property
    def stored_decision(self) -> Decision:
        """The decision buffer, named (dsn.results.threshold.Decision)."""
        return Decision.of(self.decision)

    def _step_generator(self) -> torch.Generator:
        """Randomness of one training step, a function of (seed, global_step): resumable."""
        return torch.Generator().manual_seed(self.hparams.seed * 7_919 + self.global_step)

    def test_angles(self, indices: torch.Tensor) -> torch.Tensor:
        """The T test rotations of each test image [B] -> [B, T] degrees (same for every run)."""
        return self.views.test(indices, self.hparams.seed)

    def fresh_views(self, images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """[B, k, F]: features of training views rendered afresh through the backbone, for the
        images of items ``index`` (the uncached path's ``render``, :mod:`dsn.data.view_features`).
        Their randomness is a function of (seed, epoch, the batch's first item): the epoch's
        order is seeded too, so a resumed run draws the same views as an uninterrupted one."""
        epoch, first = self.current_epoch, int(index[0]) if len(index) else 0
        g = torch.Generator().manual_seed((self.hparams.seed * 7_919 + epoch) * 1_000_003 + first)
        angles = self.views.step(images.shape[0], g)
        images = images.to(self.device)
        return self.model.embed(images, angles.to(self.device), self.views.jitter(*angles.shape, g))

    def score_batch(self, batch: dict) -> torch.Tensor:
        """Anomaly scores of a test batch, from its test views' features."""
        return self.model.score_features(batch["views"])

    # ---- loops -------------------------------------------------------------------------
    def on_train_start(self) -> None:
        self._fit_start = (time.monotonic(), self.global_step)

    def on_train_end(self) -> None:
        """Training throughput of this fit (resumed steps excluded), for the metrics file."""
        seconds = time.monotonic() - self._fit_start[0]
        steps = self.global_step - self._fit_start[1]
        dm = self.trainer.datamodule
        samples = steps * dm.batch_size * self.views.train_views if dm else 0
        self.fit_stats = {
            "fit_time_s": round(seconds, 2),
            "fit_steps": steps,
            "train_samples_per_s": round(samples / seconds, 1) if seconds > 0 else 0.0,
        }

    def _collect(self, batch: dict, scores: torch.Tensor) -> None:
        self._scores.append(scores.detach().float().cpu())
        self._labels.append(batch["label"].cpu())
        self._images.append(batch["image_index"].cpu())

    def _gather(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, labels) per image: an image's worst input (tile) is its score."""
        scores, labels, images = torch.cat(self._scores), torch.cat(self._labels), torch.cat(self._images)
        self._scores, self._labels, self._images = [], [], []
        return max_per_image(scores, images), max_per_image(labels, images)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._collect(batch, self.score_batch(batch))

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

    def on_test_epoch_start(self) -> None:
        self.test_rows, self._rows = None, []

    def test_step(self, batch: dict, batch_idx: int) -> None:
        scores, rows = self.model.score_features_and_rows(batch["views"])
        self._collect(batch, scores)
        if self.model.layout.grid is not None:
            self._rows.append((batch["index"].cpu(), rows.detach().cpu()))

    def on_test_epoch_end(self) -> None:
        if self._rows:
            index, rows = (torch.cat(part) for part in zip(*self._rows))
            self.test_rows, self._rows = rows[index.argsort()], []
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
        checkpoint["inputs"] = dict(self.inputs)
        checkpoint["trained_under"] = self.trained_under

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.curve = [tuple(c) for c in checkpoint.get("curve", [])]
        self.inputs = dict(checkpoint.get("inputs", self.inputs))
        # trained_under is not read back: a resumed run is the run now given (e.g. more passes)
