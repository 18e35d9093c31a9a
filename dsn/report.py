"""``dsn-report``: the runs under some folders (a multirun over seeds, a sweep, a comparison) as
tables, grouped so that nothing of different settings is averaged.

Runs are pooled into one row only when their recorded identity (the resolved settings minus the
seed, :mod:`dsn.results.run_identity`) is equal; the table names every setting in which rows of a
model differ. Per row: image AUROC of the last epoch, mean ± std over seeds (n, each seed's value);
pixel AUROC and AUPRO where measured; the paper's number only beside the paper's setting; the best
test-set AUROC over the learning curve only labelled as the paper's protocol (selected on the test
set, optimistic). Runs that failed, are still running, stopped or left a damaged metrics file are
listed by name with the reason. Writes into ``--out``:

    report.md, report.csv           every setting x category (the CSV numeric: mean, std, n, per seed)
    table2.md, table2.tex, table2.csv   categories x models, the papers' Table 2 layout
    by_defect.md                    image AUROC of good against each defect type (runs that record it)
    report.html (--html)            one self-contained page: both tables and the plots (AUROC against
                                    parameters, and against CPU latency with --size <dsn-size size.json>)
    a W&B run (--wandb PROJECT)     the same tables (a wandb.Table each) and plots, offline by default

    dsn-report logs/backbone_comparison/multiruns/<date> [more dirs] --out logs/report --html

Exit status 1 when no finished run is found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsn.results.report_defects import defect_table
from dsn.results.report_groups import Row, group, with_evaluations
from dsn.results.report_tables import left_out, run_csv, run_table, table2_csv, table2_latex, table2_markdown
from dsn.results.run_folders import RunFolder, read_runs
from dsn.utils.atomic import write_text_atomic


def build(dirs: list[str], models: list[str] | None = None) -> tuple[list[Row], list[RunFolder]]:
    """(rows, every run found with its status), only the ``models`` named (in that order) when
    given; exits with one line when no run finished."""
    runs = read_runs(dirs)
    rows = group(with_evaluations(runs))
    if models:
        rows = sorted((r for r in rows if r.model in models), key=lambda r: models.index(r.model))
    if not rows:
        found = ", ".join(f"{sum(r.status == s for r in runs)} {s}" for s in sorted({r.status for r in runs}))
        raise SystemExit(f"error: no finished run under {', '.join(dirs)} ({found or 'no run folders'})")
    return rows, runs


def with_latency(rows: list[Row], size_file: Path) -> None:
    """Each row of a model that ``dsn-size`` measured (by preset name) gets its latency per image."""
    import json

    measured = {r["preset"]: r["latency_ms_per_image"] for r in json.loads(size_file.read_text())}
    for row in rows:
        if row.model in measured:
            for m in row.runs:
                m["latency_ms_per_image"] = measured[row.model]


def write(rows: list[Row], runs: list[RunFolder], out: Path, command: str, html: bool = False) -> str:
    """Write the report's files into ``out``; returns report.md's text."""
    table = run_table(rows)
    missing = left_out(runs)
    md = f"Command: `{command}`\n\n" + table + (f"\n{missing}" if missing else "")
    files = {
        "report.md": md,
        "report.csv": run_csv(rows),
        "table2.md": f"Command: `{command}`\n\n" + table2_markdown(rows),
        "table2.tex": table2_latex(rows),
        "table2.csv": table2_csv(rows),
    }
    defects = defect_table(rows)
    if defects:
        files["by_defect.md"] = f"Command: `{command}`\n\n" + defects
    if html:
        from dsn.results.report_html import report_html

        files["report.html"] = report_html(rows, runs, command)
    for name, text in files.items():
        write_text_atomic(out / name, text)
    return md


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", help="folders holding runs (searched recursively)")
    ap.add_argument("--out", default="logs/report", help="folder for the report's files (default: logs/report)")
    ap.add_argument("--html", action="store_true", help="also write report.html (tables and plots, self-contained)")
    ap.add_argument("--models", help="only these models (model.name), comma-separated, in this order")
    ap.add_argument(
        "--size", help="a dsn-size size.json: each preset's measured CPU latency, for the AUROC-latency plot"
    )
    ap.add_argument("--wandb", metavar="PROJECT", help="also log the tables and plots as one W&B run of PROJECT")
    ap.add_argument(
        "--online", action="store_true", help="with --wandb: sync now (default: offline, `wandb sync` later)"
    )
    args = ap.parse_args(argv)
    models = args.models.split(",") if args.models else None
    rows, runs = build(args.dirs, models)
    if args.size:
        with_latency(rows, Path(args.size))
    command = "dsn-report " + " ".join(args.dirs) + (f" --models {args.models}" if models else "")
    command += f" --size {args.size}" if args.size else ""
    command += f" --out {args.out}" + (" --html" if args.html else "")
    out = Path(args.out)
    print(write(rows, runs, out, command, args.html))
    if args.wandb:
        from dsn.results.report_wandb import log_report

        folder = log_report(rows, runs, out, args.wandb, not args.online, command)
        print(f"report: logged to W&B project {args.wandb} ({folder})", file=sys.stderr)
    failed = sum(r.status != "ok" for r in runs)
    print(
        f"report: {len(rows)} rows from {len(runs) - failed} runs"
        + (f", {failed} not in the table (listed above)" if failed else "")
        + f" -> {out}/report.md, table2.md"
        + (", report.html" if args.html else ""),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
