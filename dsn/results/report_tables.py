"""The tables of ``dsn-report``, from :class:`~dsn.results.report_groups.Row` s: the run table
(one row per setting and category, markdown and a numeric CSV), the runs left out of it, and the
Table-2 view (categories x models, as the papers print it: markdown, LaTeX, CSV).

Headline = image AUROC at the last epoch, mean ± sample std over seeds (n); the best test-curve
point is shown only labelled as the papers' protocol (selected on the test set, optimistic)."""

from __future__ import annotations

import statistics

from dsn.results.report_groups import Row, differing_keys, mean_sd
from dsn.results.run_folders import RunFolder
from dsn.utils.tables import csv_text, markdown_table, mean_std

LAST_EPOCH = "image AUROC, last epoch (mean ± std)"
OLD_FILE_MARK = "†"
OLD_FILE_NOTE = (
    f"{OLD_FILE_MARK} metrics files written before runs recorded their identity: grouped by the "
    "settings they record (they may not say their test split or weights); no published number beside them."
)


def cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    return str(value)


def features_of(m: dict) -> str:
    """What the detector reads: backbone, tap width(s) and scales."""
    if m.get("patch_taps"):
        return f"{m['backbone']} patches {'+'.join(str(t) for t in m['patch_taps'])}"
    return f"{m['backbone']} {m.get('n_features')} x {m.get('n_scales')}"


def head_of(m: dict) -> str:
    """What sits on the features: the head's kind, its trained parameters, its stored rows."""
    params = m.get("head_params") or m.get("flow_params") or 0  # flow_params: files before heads were general
    size = [f"{params / 1e6:.1f} M"] if params else []
    bank = [f"bank {m['bank_rows']:,}"] if m.get("bank_rows") else []
    return " ".join([m.get("detector", "flow"), *size, *bank])


def with_seeds_note(values: list[float], seeds: int) -> str:
    """mean ± std of a measurement only some of a row's seeds have, saying how many."""
    return mean_std(values) + (f" ({len(values)} of {seeds} seeds)" if 1 < len(values) < seeds else "")


def swing_cell(row: Row) -> str:
    value, have = row.swing()
    if value is None:
        return "—"
    return f"{value:.1f}" + (f" ({have} of {len(row.runs)} seeds)" if have < len(row.runs) else "")


def run_table_cells(rows: list[Row]) -> tuple[list[str], list[list[object]]]:
    """(header, one line of cells per row) of the run table: the markdown table and the HTML page
    both show these cells."""
    keys = differing_keys(rows)
    header = ["model", "category", *keys, "features", "head", "n", "passes", LAST_EPOCH, "pixel AUROC"]
    header += ["pixel AUPRO (FPR ≤ 0.3)", "paper (Table 2)", "best epoch on test — paper's protocol, optimistic"]
    header += ["swing over the last 4 curve points (worst seed)", "minutes per run", "of it figures (min)"]
    header += ["peak RSS (GB)", "per seed"]
    body = []
    for r in rows:
        n = len(r.runs)
        pixel = with_seeds_note(r.values("pixel_auroc"), n) + (" (maps min-max per image)" if r.maps_per_image else "")
        body.append(
            [
                r.model + ("" if r.recorded else OLD_FILE_MARK),
                r.category,
                *[cell(r.settings.get(k)) if k in r.settings else "" for k in keys],
                features_of(r.runs[0]),
                head_of(r.runs[0]),
                n,
                r.epochs,
                mean_std(r.values("auroc")),
                pixel,
                with_seeds_note(r.values("pixel_aupro"), n),
                cell(r.paper),
                mean_std(r.best_on_test),
                swing_cell(r),
                cost_cell(r.raw("wall_time_s"), 1 / 60),
                cost_cell(r.stage_seconds("figures"), 1 / 60),
                cost_cell(r.raw("peak_rss_mb"), 1 / 1024, worst=True),
                " ".join(f"{v:.1f}" for v in r.values("auroc")),
            ]
        )
    return header, body


def run_table(rows: list[Row]) -> str:
    """The run table in markdown, the headline (last epoch) in bold."""
    header, body = run_table_cells(rows)
    col = header.index(LAST_EPOCH)
    body = [[*line[:col], f"**{line[col]}**", *line[col + 1 :]] for line in body]
    note = "" if all(r.recorded for r in rows) else "\n" + OLD_FILE_NOTE + "\n"
    return markdown_table(header, body) + note


def _stats(prefix: str, values: list[float]) -> dict:
    mean, sd = mean_sd(values)
    r = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {f"{prefix}_mean": r(mean), f"{prefix}_std": r(sd), f"{prefix}_n": len(values)}


def run_csv(rows: list[Row]) -> str:
    """The run table as numbers: mean, std, n and the per-seed values of each measurement."""
    return csv_text(run_records(rows))


def run_records(rows: list[Row]) -> list[dict]:
    """The run table's rows as typed values (None where a row has no value)."""
    keys = differing_keys(rows)
    out = []
    for r in rows:
        swing, _ = r.swing()
        out.append(
            {
                "model": r.model,
                "category": r.category,
                **{k: _typed(r.settings.get(k)) for k in keys},
                "features": features_of(r.runs[0]),
                "head": head_of(r.runs[0]),
                "passes": r.epochs,
                **_stats("auroc", r.values("auroc")),
                "auroc_per_seed": " ".join(f"{v:.3f}" for v in r.values("auroc")),
                "seeds": " ".join(str(s) for s in r.seeds),
                **_stats("pixel_auroc", r.values("pixel_auroc")),
                **_stats("pixel_aupro", r.values("pixel_aupro")),
                "paper": r.paper,
                **_stats("best_on_test", r.best_on_test),
                "swing_last_4": None if swing is None else round(swing, 3),
                **_stats("wall_time_s", r.raw("wall_time_s")),
                "peak_rss_mb_max": max(r.raw("peak_rss_mb"), default=None),
                "identity_recorded": r.recorded,
            }
        )
    return out


def cost_cell(values: list[float], scale: float, worst: bool = False) -> str:
    """A run's cost on its machine: the mean over seeds (``worst``: the largest), scaled; — when
    no run recorded it. Runs of one row may come from different machines: see their metrics."""
    if not values:
        return "—"
    return f"{(max(values) if worst else sum(values) / len(values)) * scale:.1f}"


def _typed(value: object) -> object:
    """A setting's value for the numeric CSV and W&B: numbers and text as they are, lists joined."""
    return "+".join(str(v) for v in value) if isinstance(value, list) else value


def left_out(runs: list[RunFolder]) -> str:
    """The runs that are not in the tables, each with its status and reason ("" when none)."""
    missing = [r for r in runs if r.status != "ok"]
    if not missing:
        return ""
    lines = [f"- {r.status}: `{r.path}` — {r.reason}" for r in missing]
    return f"Runs not in the table ({len(missing)}):\n\n" + "\n".join(lines) + "\n"


# ---- the Table-2 view: categories x models -------------------------------------------------


def column_label(row: Row, rows: list[Row]) -> str:
    """A model's name, and its row's settings where the model has more than one column."""
    label = row.model + ("" if row.recorded else OLD_FILE_MARK)
    extra = [f"{k.rsplit('.', 1)[-1]}={cell(v)}" for k, v in row.settings.items()]
    if len({r.epochs for r in rows if r.model == row.model}) > 1:
        extra.append(f"{row.epochs} passes")
    return label + (f" ({', '.join(extra)})" if extra else "")


def table2(rows: list[Row]) -> tuple[list[str], list[list[str]], list[dict]]:
    """(header, text rows, numeric rows) of categories x models; the published numbers in their
    own labelled columns, for the models a row of which is the paper's setting."""
    columns = list(dict.fromkeys(column_label(r, rows) for r in rows))
    categories = sorted({r.category for r in rows})
    cells = {(column_label(r, rows), r.category): r for r in rows}
    papers = sorted({r.model for r in rows if r.paper is not None})
    header = ["category", *columns, *[f"paper: {m} (best epoch on test, 1 run)" for m in papers]]
    text, numbers = [], []
    for cat in categories:
        line, num = [cat], {"category": cat}
        for col in columns:
            r = cells.get((col, cat))
            vals = r.values("auroc") if r else []
            line.append(f"{mean_std(vals)} (n={len(vals)})" if len(vals) > 1 else mean_std(vals))
            num[col], num[f"{col} std"] = (None, None) if not vals else mean_sd(vals)
            num[f"{col} n"] = len(vals)
        for m in papers:
            p = next((r.paper for r in rows if r.model == m and r.category == cat and r.paper is not None), None)
            line.append(cell(p))
            num[f"paper: {m}"] = p
        text.append(line)
        numbers.append(num)
    if len(categories) > 1:
        line = ["mean"]
        for col in columns:
            means = [n[col] for n in numbers if n[col] is not None]
            line.append(f"{statistics.mean(means):.1f}" if len(means) == len(categories) else "—")
        line += [cell(None)] * len(papers)
        text.append(line)
    return header, text, numbers


TABLE2_CAPTION = (
    "Image AUROC (%) at the last epoch, mean ± std over seeds (n); a model's columns differ in the "
    "settings named; published numbers (the papers' best epoch on test, one run) only in their own columns."
)


def table2_markdown(rows: list[Row]) -> str:
    header, text, _ = table2(rows)
    note = "" if all(r.recorded for r in rows) else "\n" + OLD_FILE_NOTE + "\n"
    return markdown_table(header, text) + "\n" + TABLE2_CAPTION + "\n" + note


def table2_csv(rows: list[Row]) -> str:
    return csv_text(table2(rows)[2])


LATEX_ESCAPES = {"_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "±": r"$\pm$", "—": "--", "†": r"$^\dagger$"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in text)


def table2_latex(rows: list[Row]) -> str:
    header, text, _ = table2(rows)
    lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule"]
    lines.append(" & ".join(latex_escape(h) for h in header) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(latex_escape(c) for c in line) + r" \\" for line in text]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
