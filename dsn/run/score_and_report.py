"""Test a trained module and write what a run reports: metrics.json, then figures and pixel AUROC.

Shared by ``dsn-train`` (after fitting) and ``dsn-eval`` (on a saved checkpoint), so both write
the same metrics file and the same figures for the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from dsn.results.run_figures import write_run_figures
from dsn.results.run_metrics import run_metrics
from dsn.utils.atomic import write_json
from dsn.utils.memory import peak_rss_mb


def score_and_report(
    cfg: DictConfig,
    trainer,
    module,
    datamodule,
    epochs: int,
    start: float,
    extra: Callable[[], dict] | None = None,
    peaks: dict | None = None,
) -> dict:
    """Score the test set, write ``metrics.json`` (before the slower figures, so a crash while
    drawing keeps the numbers), then the figures of ``cfg.figures``; returns the metrics.
    ``extra`` is called after testing (it may read the module's test scores). ``peaks`` (stage ->
    peak RSS so far, MB) gains "test" and "figures" and is stored as ``peak_rss_mb_by_stage``."""
    peaks = dict(peaks or {})
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = run_metrics(module, datamodule.test_set, epochs, time.monotonic() - start)
    metrics.update(extra() if extra else {})
    peaks["test"] = peak_rss_mb()
    metrics["peak_rss_mb_by_stage"] = peaks
    metrics_file = write_json(Path(cfg.paths.output_dir) / "metrics.json", metrics)
    fig = cfg.get("figures")
    if fig and fig.enabled:
        metrics.update(
            write_run_figures(
                module,
                datamodule.test_set,
                cfg.paths.output_dir,
                loggers=trainer.loggers,
                gradient_maps=fig.gradient_maps,
                map_rotations=fig.map_rotations,
                with_pixel_auroc=fig.pixel_auroc,
            )
        )
        peaks["figures"] = metrics["peak_rss_mb"] = peak_rss_mb()
        metrics["wall_time_s"] = round(time.monotonic() - start, 1)  # the whole run, figures included
        write_json(metrics_file, metrics)
    return metrics
