"""The pure-PyTorch models: backbones, views, features, heads (the flow and the same-feature
baselines beside it, :mod:`dsn.model.heads`), and the detector that composes them.

Nothing here imports Lightning, Hydra or W&B.
"""

from dsn.model.backbones import BACKBONES, build_backbone, valid_widths
from dsn.model.detector import Detector
from dsn.model.flow import CouplingFlow
from dsn.model.loss import nll_loss
from dsn.model.view_policy import ViewPolicy

__all__ = ["BACKBONES", "CouplingFlow", "Detector", "ViewPolicy", "build_backbone", "nll_loss", "valid_widths"]
