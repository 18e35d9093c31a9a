"""The one line a run ends with: what it found and where it is written."""

from __future__ import annotations

from pathlib import Path


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def summary_line(metrics: dict, metrics_file: str | Path) -> str:
    """``bottle differsqueezenet seed 0: image AUROC 97.9 (pixel AUROC 64.7, AUPRO 41.0), threshold
    0.83 | 192 passes, 1510 s (figures 95 s), peak 4.6 GB | logs/.../metrics.json``: the figures'
    share is shown because drawing maps can cost more than the training."""
    found = f"image AUROC {_pct(metrics.get('auroc'))}"
    named = (("pixel AUROC", "pixel_auroc"), ("AUPRO", "pixel_aupro"))
    pixel = [f"{label} {_pct(metrics[key])}" for label, key in named if key in metrics]
    if pixel:
        found += f" ({', '.join(pixel)})"
    found += f", threshold {metrics['threshold']:.4g}" if metrics.get("threshold") is not None else ", no threshold"
    epochs = metrics.get("epochs")
    cost = f"{epochs} pass{'' if epochs == 1 else 'es'}, {metrics.get('wall_time_s', 0):.0f} s"
    figures_s = metrics.get("wall_time_s_by_stage", {}).get("figures")
    if figures_s is not None:
        cost += f" (figures {figures_s:.0f} s)"
    if metrics.get("peak_rss_mb"):
        cost += f", peak {metrics['peak_rss_mb'] / 1024:.1f} GB"
    who = f"{metrics.get('category')} {metrics.get('model')} seed {metrics.get('seed')}"
    return f"{who}: {found} | {cost} | {metrics_file}"
