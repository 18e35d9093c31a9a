"""The Lightning module of heads trained by gradient steps (the flow; any
:class:`dsn.model.heads.GradientHead`): which views a step sees and how the head is optimised.

Scoring, AUROC logging and the threshold are :class:`DetectorLightning`'s, shared with the fitted
heads; all model computation lives in the head.
"""

from __future__ import annotations

import torch

from dsn.lit.detector_module import DetectorLightning
from dsn.model.settings import check_keys

LR_SCHEDULES = ("constant", "cosine")
OPTIMIZER_KEYS = ("lr", "betas", "eps", "weight_decay", "lr_schedule")


class GradientLightning(DetectorLightning):
    """``model.optimizer``: Adam's ``lr``, ``betas``, ``eps``, ``weight_decay`` and the
    ``lr_schedule`` (constant, the reference's; cosine: to lr/100 over ``trainer.max_epochs``)."""

    def __init__(self, **hparams):
        super().__init__(**hparams)
        opt = self.hparams.optimizer
        if not isinstance(opt, dict):
            raise ValueError(f"model.optimizer must give {list(OPTIMIZER_KEYS)} (a gradient-trained head), got {opt!r}")
        check_keys("model.optimizer", opt, OPTIMIZER_KEYS)
        if opt["lr_schedule"] not in LR_SCHEDULES:
            raise ValueError(f"model.optimizer.lr_schedule must be one of {LR_SCHEDULES}, got {opt['lr_schedule']!r}")

    def train_features(self, batch: dict) -> torch.Tensor:
        """[B, k, F] features of k training views per image, drawn afresh every step: k distinct
        ones of a cached bank of V, or the k views the uncached path rendered for this step."""
        k = self.views.train_views
        bank = batch["views"]
        b, v, f = bank.shape  # v >= k: checked up front (dsn.config.config_checks)
        if v == 1:  # without train_rotations: one upright view per image, seen k times a step
            return bank.expand(b, k, f)
        if v == k:  # rendered for this step (or a bank of exactly k: every step sees all of them)
            return bank
        pick = torch.rand(b, v, generator=self._step_generator()).argsort(dim=1)[:, :k].to(bank.device)
        return bank.gather(1, pick.unsqueeze(-1).expand(b, k, f))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        feats = self.train_features(batch)
        loss = self.model.head.loss(feats.reshape(-1, feats.shape[-1]))
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step}: "
                f"the head diverged. The last checkpoint is kept; lower model.optimizer.lr (now "
                f"{self.hparams.optimizer['lr']}) or the head's scale settings and resume or restart"
            )
        self.log("train/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=feats.shape[0])
        return loss

    def configure_optimizers(self):
        opt = self.hparams.optimizer
        # fused: one kernel over all the head's parameters; the default multi-tensor Adam took
        # 0.64 s per step of the paper flow on the 2-core CPU against 0.04 s fused (2026-11-28)
        optimizer = torch.optim.Adam(
            self.model.head.parameters(),
            lr=opt["lr"],
            betas=tuple(opt["betas"]),
            eps=opt["eps"],
            weight_decay=opt["weight_decay"],
            fused=True,
        )
        if opt["lr_schedule"] == "constant":  # the reference's
            return optimizer
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.trainer.max_epochs, eta_min=opt["lr"] / 100
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "epoch"}}
