"""``dsn-eval``: score a saved checkpoint on a category's test set (no training): metrics.json
and, as configured by ``figures``, the same figures and pixel AUROC a training run draws
(:func:`dsn.run.evaluation.evaluate`)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from dsn import CONF_DIR

__all__ = ["main"]  # and evaluate, on first use (below)


def __getattr__(name: str):
    """``dsn.evaluate.evaluate``, imported on first use (torch loads only when a run starts)."""
    if name == "evaluate":
        from dsn.run.evaluation import evaluate

        return evaluate
    raise AttributeError(name)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    from dsn.run.cli_errors import one_line_errors
    from dsn.run.evaluation import evaluate

    return one_line_errors(evaluate, cfg).get("auroc")


if __name__ == "__main__":
    main()
