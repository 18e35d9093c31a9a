"""``dsn-train``: train the flow on one category's defect-free images, then score its test set
(:func:`dsn.run.training.train`); with ``objective_categories``, one run per category. Returns
the objective(s) to a Hydra sweeper."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, open_dict

from dsn import CONF_DIR

__all__ = ["main", "objective"]  # and train, on first use (below)


def __getattr__(name: str):
    """``dsn.train.train``: the run itself, imported on first use. Torch and Lightning load only
    once a run starts, so ``dsn-train --help`` and a config error answer without them."""
    if name == "train":
        from dsn.run.training import train

        return train
    raise AttributeError(name)


def objective(cfg: DictConfig) -> float | list[float] | None:
    """Train on ``objective_categories`` (or the one ``data.category``) and return the mean of each
    of ``optimized_metrics`` over them: what a sweeper optimises. None when a value is missing."""
    categories = list(cfg.get("objective_categories") or [cfg.data.category])
    base = Path(cfg.paths.output_dir)
    runs = []
    for cat in categories:
        with open_dict(cfg):
            cfg.data.category = cat
            if len(categories) > 1:
                cfg.paths.output_dir = str(base / cat)
        runs.append(__getattr__("train")(cfg))
    values = []
    for name in cfg.optimized_metrics:
        per = [m.get(name) for m in runs]
        if any(v is None for v in per):
            return None
        values.append(sum(per) / len(per))
    if cfg.get("trial") is not None:  # a sweep's trial: its result outlives a failed tell (dsn_sweeper)
        from dsn.results.trial_result import write_trial_result

        write_trial_result(base, list(cfg.optimized_metrics), values)
    return values[0] if len(values) == 1 else values


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Hydra entry point; returns the objective(s) so Hydra sweepers can optimise them."""
    from dsn.run.cli_errors import one_line_errors

    return one_line_errors(objective, cfg)


if __name__ == "__main__":
    main()
