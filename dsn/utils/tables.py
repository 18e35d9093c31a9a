"""Markdown tables and their cells, the one way dsn writes them (reports, size table, sweep
summaries, the experiments' result tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """``| a | b |`` lines: the header, the separator, one line per row (cells as ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def mean_std(values: Sequence[float], unit: str = "run", counted: bool = False, note: str = "") -> str:
    """``"mean ± sample std"`` to one decimal; ``"—"`` for none. One value has no spread to show, so
    it gets no "±" but ``"(1 <unit><note>)"``; ``counted`` adds ``"(<n> <unit>s<note>)"`` to a mean."""
    import statistics

    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f} (1 {unit}{note})"
    tail = f" ({len(values)} {unit}s{note})" if counted else ""
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}{tail}"


def csv_text(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """CSV with a header; ``columns`` defaults to every key of the rows, in first-seen order."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns or dict.fromkeys(k for r in rows for k in r)))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
