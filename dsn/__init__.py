"""dsn: DifferSqueezeNet / DifferNet defect detection as a Lightning + Hydra experiment framework.

The package tree is the architecture; dependencies point one way, down this list (a package may
import itself and the packages below it, never a sibling on its own line or one above):

    dsn/*.py      the commands (train, evaluate, predict, export, report, size, cache): thin
    dsn.engine    one run's machinery: config checks, run directory, Lightning module, feature
                  caches, checkpoints, thresholds, loggers; Hydra is used here and in the commands only
    dsn.results   what runs write and the tables across runs: AUROC, figures, run metrics, paper numbers
    dsn.deploy    the exported scorer and the torch-free edge runtime
    dsn.model     pure PyTorch: backbones, views, features, flow, loss, gradient maps (no Lightning,
                  Hydra or W&B)
    dsn.data      files -> tensors -> Dataset / DataModule (no model code)
    dsn.utils     leaf helpers: image files (no torch), atomic writes, tensor cache, memory, timing, tables

``results`` and ``deploy`` share a level, as do ``model`` and ``data``: neither of a pair imports
the other. ``tests/test_layout.py`` checks these rules on every module's imports.
"""

import os
from pathlib import Path

# the Hydra config tree: the checkout's conf/ (editable install), or $DSN_CONF
CONF_DIR = os.environ.get("DSN_CONF", str(Path(__file__).resolve().parent.parent / "conf"))
