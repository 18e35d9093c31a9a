"""The pure-PyTorch model: backbones, views, multi-scale features, flow, loss, scoring.

Nothing here imports Lightning, Hydra or W&B.
"""

from dsn.model.backbones import BACKBONES, build_backbone, valid_widths
from dsn.model.flow import CouplingFlow
from dsn.model.loss import nll_loss
from dsn.model.torch_model import DifferModel

__all__ = ["BACKBONES", "CouplingFlow", "DifferModel", "build_backbone", "nll_loss", "valid_widths"]
