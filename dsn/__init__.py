"""dsn: DifferSqueezeNet / DifferNet defect detection as a Lightning + Hydra experiment framework.

The package tree is the architecture; dependencies point one way, down this list (a package may
import itself and the packages below it, never a sibling on its own line or one above):

    dsn/*.py      the commands (train, evaluate, predict, export, report, size, cache): thin
    dsn.run       one run, start to end: the run directory (lock, resume), feature caches, fit, test,
                  report, one-line errors
    dsn.config    the composed config: checks before any image is read, objects built from it
    dsn.lit       the Lightning adapters: one module per training style, checkpoints, callbacks,
                  loggers, precision (run, config and lit are where Hydra is used, with the commands)
    dsn.results   what runs write and the tables across runs: AUROC, thresholds, figures, run metrics
    dsn.deploy    the exported scorer and the torch-free edge runtime
    dsn.model     pure PyTorch: backbones, views, features, heads, the detector, gradient maps (no
                  Lightning, Hydra or W&B)
    dsn.data      files -> tensors -> Dataset / DataModule (no model code)
    dsn.utils     leaf helpers: image files (no torch), atomic writes, tensor cache, memory, timing, tables

``results`` and ``deploy`` share a level, as do ``model`` and ``data``: neither of a pair imports
the other. ``tests/test_layout.py`` checks these rules on every module's imports.
"""

import os
from pathlib import Path

# the Hydra config tree: the checkout's conf/ (editable install), or $DSN_CONF
CONF_DIR = os.environ.get("DSN_CONF", str(Path(__file__).resolve().parent.parent / "conf"))
