"""Third-party notices that do not apply to how dsn runs, silenced by their exact text (nothing
else of those libraries' warnings is touched).

- Lightning's ``srun`` hint: dsn runs one process per job; under SLURM the launcher owns srun.
- Lightning's "module(s) in eval mode at the start of training": the frozen backbone is in eval
  mode on purpose (its batch-norm statistics are ImageNet's).
- Lightning's own ``LeafSpec`` deprecation: raised inside Lightning, nothing dsn can change.
- Lightning's "💡 Tip" adverts for its cloud loggers and model registry.
- "Checkpoint directory ... exists and is not empty": a run resumes in its own directory on purpose
  (the run-directory lock makes sure it is its own).
- "configure_optimizers returned None": a fitted head (kNN, Gaussian) has no optimiser on purpose.
- "number of training batches ... smaller than the logging interval": dsn's curves are per epoch;
  a small category's few steps per epoch lose nothing.

Lightning's own console handler is removed where the run's logging (Hydra's console and
``train.log``) already shows its messages: each line was printed twice.
"""

from __future__ import annotations

import logging
import re
import warnings

NOTICES = (
    "The `srun` command is available on your system but is not used",
    r"Found \d+ module\(s\) in eval mode at the start of training",
    re.escape("`isinstance(treespec, LeafSpec)` is deprecated"),
    r"Checkpoint directory .* exists and is not empty",
    re.escape("`LightningModule.configure_optimizers` returned `None`, this fit will run with no optimizer"),
    r"The number of training batches \(\d+\) is smaller than the logging interval",
)
TIP = "💡 Tip: For seamless cloud"
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(TIP)


def quiet_third_party() -> None:
    for text in NOTICES:
        warnings.filterwarnings("ignore", message=text)
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())
    if logging.getLogger().handlers:  # the run's own handlers show Lightning's messages
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler:
                    logger.removeHandler(handler)
                    logger.propagate = True
