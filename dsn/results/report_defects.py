"""dsn-report's table by defect type: each row's image AUROC of the good test images against one
defect type at a time, mean ± std over seeds. Two detectors with the same overall AUROC can miss
different defects (on Magnetic Tile a patch bank misses uneven surfaces that a global flow finds);
this table shows it, from the ``auroc_by_defect`` that runs record since 2026-12-07."""

from __future__ import annotations

from dsn.results.report_groups import Row, differing_keys
from dsn.results.report_tables import cell
from dsn.utils.tables import markdown_table, mean_std


def by_defect(row: Row, defect: str) -> list[float]:
    """Per-seed AUROC (%) of good against ``defect``, for the seeds that recorded it."""
    return [100 * m["auroc_by_defect"][defect] for m in row.runs if defect in m.get("auroc_by_defect", {})]


def defect_table(rows: list[Row]) -> str:
    """Rows x defect types in markdown; "" when no run recorded its AUROC by defect type."""
    rows = [r for r in rows if any(m.get("auroc_by_defect") for m in r.runs)]
    defects = sorted({d for r in rows for m in r.runs for d in m.get("auroc_by_defect", {})})
    if not defects:
        return ""
    keys = differing_keys(rows)
    header = ["model", "category", *keys, "n", "all defects", *defects]
    body = [
        [
            r.model,
            r.category,
            *[cell(r.settings.get(k)) if k in r.settings else "" for k in keys],
            len(r.runs),
            mean_std(r.values("auroc")),
            *[mean_std(by_defect(r, d)) for d in defects],
        ]
        for r in rows
    ]
    caption = (
        "Image AUROC (%) at the last epoch of the good test images against each defect type alone, "
        "mean ± std over seeds; — where a category has no such type.\n"
    )
    return markdown_table(header, body) + "\n" + caption
