"""``hydra/sweeper=dsn_optuna``: the plugin class Hydra finds, and nothing heavy.

Hydra imports every module of ``hydra_plugins`` whose name does not start with ``_`` at each
``dsn-*`` start, to find its plugins; importing Optuna, SQLAlchemy and the storage code there
cost every command time (tests/test_startup.py checks that a scan imports none of them). So, as Hydra's
own Optuna plugin does, this class only keeps its settings and imports the worker
(:mod:`._sweeper`, where the whole design is described) when a sweep really starts.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class DsnOptunaSweeper(Sweeper):
    """Settings: ``conf/hydra/sweeper/dsn_optuna.yaml`` (see :class:`._sweeper.OptunaWorker`)."""

    def __init__(self, **settings: Any):
        from hydra_plugins.dsn_sweeper._sweeper import OptunaWorker

        self.worker = OptunaWorker(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.worker.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.worker.sweep(arguments)
