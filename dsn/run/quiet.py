"""Third-party notices that do not apply to how dsn runs, silenced by their exact text (nothing
else of those libraries' warnings is touched).

- Lightning's ``srun`` hint: dsn runs one process per job; under SLURM the launcher owns srun.
- Lightning's "module(s) in eval mode at the start of training": the frozen backbone is in eval
  mode on purpose (its batch-norm statistics are ImageNet's).
- Lightning's own ``LeafSpec`` deprecation: raised inside Lightning, nothing dsn can change.
- Lightning's "💡 Tip" adverts for its cloud loggers and model registry.
"""

from __future__ import annotations

import logging
import re
import warnings

NOTICES = (
    "The `srun` command is available on your system but is not used",
    r"Found \d+ module\(s\) in eval mode at the start of training",
    re.escape("`isinstance(treespec, LeafSpec)` is deprecated"),
)
TIP = "💡 Tip: For seamless cloud"
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


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
