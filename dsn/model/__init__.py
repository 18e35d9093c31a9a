"""The pure-PyTorch models: backbones, views, multi-scale features, flow, loss, scoring, and the
same-feature baselines (global kNN, PatchCore-style patch bank) beside the flow.

Nothing here imports Lightning, Hydra or W&B.
"""

from dsn.model.backbones import BACKBONES, build_backbone, valid_widths
from dsn.model.flow import CouplingFlow
from dsn.model.knn_model import KNNModel
from dsn.model.loss import nll_loss
from dsn.model.patch_model import PatchModel
from dsn.model.registry import model_from_hparams
from dsn.model.torch_model import DifferModel

__all__ = [
    "BACKBONES",
    "CouplingFlow",
    "DifferModel",
    "KNNModel",
    "PatchModel",
    "build_backbone",
    "model_from_hparams",
    "nll_loss",
    "valid_widths",
]
