"""Which pure-PyTorch detector a set of hyperparameters describes: the one place that maps the
``detector`` setting (absent in flow checkpoints) to a model class."""

from __future__ import annotations

from collections.abc import Mapping

from dsn.model.embedder import ViewEmbedder
from dsn.model.knn_model import KNNModel
from dsn.model.patch_model import PatchModel
from dsn.model.torch_model import DifferModel

DETECTORS: dict[str, type[ViewEmbedder]] = {"flow": DifferModel, "knn": KNNModel, "patch": PatchModel}


def detector_kind(hparams: Mapping) -> str:
    kind = hparams.get("detector", "flow")
    if kind not in DETECTORS:
        raise ValueError(f"model.detector must be one of {sorted(DETECTORS)}, got {kind!r}")
    return kind


def model_from_hparams(hparams: Mapping) -> ViewEmbedder:
    """The detector of a config's ``model`` node or a checkpoint's hyperparameters."""
    return DETECTORS[detector_kind(hparams)].from_hparams(hparams)


def head_size(model: ViewEmbedder) -> dict[str, int]:
    """What sits on the features: the flow's parameters (0 for a baseline) and the memory bank's
    rows and width (0 for a flow)."""
    flow, memory = getattr(model, "flow", None), getattr(model, "memory", None)
    return {
        "flow_params": sum(p.numel() for p in flow.parameters()) if flow is not None else 0,
        "bank_rows": int(memory.rows.shape[0]) if memory is not None else 0,
        "bank_width": int(memory.rows.shape[1]) if memory is not None else 0,
    }
