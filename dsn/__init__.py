"""dsn: DifferSqueezeNet / DifferNet defect detection as a Lightning + Hydra experiment framework.

Layers, each importing only those above it:
    dsn.model   pure PyTorch: backbones, views, features, flow, loss, scoring
    dsn.data    image files -> tensors, the Dataset and the DataModule (no model code)
    dsn.engine.lightning_module, dsn.engine.feature_cache, dsn.results.metrics   training and evaluation glue
    dsn.train, dsn.evaluate   Hydra entry points (the only users of Hydra besides conf/)
"""

import os
from pathlib import Path

# the Hydra config tree: the checkout's conf/ (editable install), or $DSN_CONF
CONF_DIR = os.environ.get("DSN_CONF", str(Path(__file__).resolve().parent.parent / "conf"))
