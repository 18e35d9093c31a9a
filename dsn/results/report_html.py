"""``dsn-report --html``: one self-contained page (tables and plots inline, no network, opens
from disk), the same content as the markdown files."""

from __future__ import annotations

import base64
import html

from dsn.results.report_groups import Row
from dsn.results.report_plots import pareto, seeds_bars
from dsn.results.report_tables import LAST_EPOCH, OLD_FILE_NOTE, run_table_cells, table2
from dsn.results.run_folders import RunFolder

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
code { background: #f6f6f6; padding: 0 0.2em; }
img { max-width: 100%; margin: 0.5em 1em 0.5em 0; }
"""


def _table(header: list[str], rows: list[list[object]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def report_html(rows: list[Row], runs: list[RunFolder], command: str) -> str:
    header, text, _ = table2(rows)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>dsn report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>dsn report</h1>",
        f"<p>Command: <code>{html.escape(command)}</code></p>",
        f"<h2>Table 2 view: {html.escape(LAST_EPOCH)}</h2>",
        _table(header, text, "table2"),
        "<h2>Every setting</h2>",
        _table(*run_table_cells(rows), "runs"),
    ]
    if any(not r.recorded for r in rows):
        parts.append(f"<p>{html.escape(OLD_FILE_NOTE)}</p>")
    parts.append("<h2>Plots</h2>")
    for cat in sorted({r.category for r in rows}):
        parts.append(_img(seeds_bars(rows, cat), f"AUROC per model on {cat}"))
    parts.append(_img(pareto(rows, "parameters"), "AUROC against parameters"))
    parts.append(_img(pareto(rows, "latency_ms_per_image"), "AUROC against latency"))
    missing = [r for r in runs if r.status != "ok"]
    if missing:
        parts.append(f"<h2>Runs not in the tables ({len(missing)})</h2>")
        parts.append(_table(["status", "run", "reason"], [[r.status, r.path, r.reason] for r in missing], "left-out"))
    parts.append("</body></html>")
    return "\n".join(parts)
