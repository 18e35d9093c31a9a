"""The report's plots, as PNG bytes: per category a bar per model with each seed's dot, and image
AUROC against model size (parameters) and, where runs recorded it, latency per image: the Pareto
view people choose a detector from."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dsn.results.report_groups import Row  # noqa: E402
from dsn.results.report_tables import column_label  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def seeds_bars(rows: list[Row], category: str) -> bytes:
    """One bar per model (its mean), each seed a dot on it."""
    mine = [r for r in rows if r.category == category]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(mine) + 1.5), 3.6))
    for i, r in enumerate(mine):
        vals = r.values("auroc")
        ax.bar(i, sum(vals) / len(vals), color="#9ecae1", edgecolor="#3182bd")
        ax.scatter([i] * len(vals), vals, color="#08306b", zorder=3, s=14)
    ax.set_xticks(range(len(mine)), [column_label(r, rows) for r in mine], rotation=30, ha="right", fontsize=8)
    low = min(v for r in mine for v in r.values("auroc"))
    ax.set(ylabel="image AUROC, last epoch (%)", title=f"{category}: each dot a seed", ylim=(max(0, low - 5), 100.5))
    return _png(fig)


def size_of(m: dict) -> int:
    return int(m.get("backbone_params") or 0) + int(m.get("head_params") or m.get("flow_params") or 0)


def pareto(rows: list[Row], x: str) -> bytes | None:
    """Mean image AUROC against ``x`` ("parameters" or "latency_ms_per_image"), a point per row;
    None when no run recorded ``x``."""
    points = []
    for r in rows:
        value = size_of(r.runs[0]) if x == "parameters" else r.runs[0].get(x)
        if value:
            vals = r.values("auroc")
            points.append((value, sum(vals) / len(vals), f"{column_label(r, rows)} ({r.category})"))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for value, auroc, label in points:
        ax.scatter(value, auroc, s=20)
        ax.annotate(label, (value, auroc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    xlabel = "parameters (backbone + head)" if x == "parameters" else "latency per image (ms)"
    ax.set(xlabel=xlabel, ylabel="image AUROC, last epoch (%)", title=f"AUROC against {xlabel}")
    return _png(fig)
