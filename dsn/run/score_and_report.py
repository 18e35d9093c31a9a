"""Test a trained module and write what a run reports: metrics.json, then figures and pixel AUROC.

Shared by ``dsn-train`` (after fitting) and ``dsn-eval`` (on a saved checkpoint), so both write
the same metrics file and the same figures for the same weights.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from dsn.results.run_figures import write_run_figures
from dsn.results.run_metrics import run_metrics
from dsn.run.run_record import RunRecord
from dsn.utils.atomic import write_json


def score_and_report(
    cfg: DictConfig,
    trainer,
    module,
    datamodule,
    epochs: int,
    run: RunRecord,
    extra: Callable[[], dict] | None = None,
) -> dict:
    """Score the test set, write ``metrics.json`` (before the slower figures, so a crash while
    drawing keeps the numbers), then the figures of ``cfg.figures``; returns the metrics.
    ``extra`` is called after testing (it may read the module's test scores). The run's stage
    peaks gain "test" and "figures" and are stored as ``peak_rss_mb_by_stage``."""
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = run_metrics(module, datamodule.test_set, epochs, run.elapsed())
    metrics.update(extra() if extra else {})
    run.stage("test")
    metrics["peak_rss_mb_by_stage"] = run.peaks
    metrics_file = write_json(run.metrics_file, metrics)
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
        metrics["peak_rss_mb"] = run.stage("figures")
        metrics["wall_time_s"] = round(run.elapsed(), 1)  # the whole run, figures included
        write_json(metrics_file, metrics)
    return metrics
