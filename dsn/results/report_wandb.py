"""``dsn-report --wandb``: the report as one W&B run (offline unless told otherwise), so a synced
project shows what the files show: a ``wandb.Table`` per view (every setting, the Table-2 view,
the runs left out) and the plots as images."""

from __future__ import annotations

import io

from dsn.results.report_groups import Row
from dsn.results.report_plots import pareto, seeds_bars
from dsn.results.report_tables import run_records, table2
from dsn.results.run_folders import RunFolder


def _table(wandb, records: list[dict]):
    columns = list(dict.fromkeys(k for r in records for k in r))
    return wandb.Table(columns=columns, data=[[r.get(k) for k in columns] for r in records])


def log_report(rows: list[Row], runs: list[RunFolder], out, project: str, offline: bool, command: str) -> str:
    """Log the report as one run of ``project`` (files under ``out``); returns the run's folder."""
    import wandb
    from PIL import Image

    header, text, _ = table2(rows)
    run = wandb.init(
        project=project,
        name="dsn-report",
        job_type="report",
        dir=str(out),
        mode="offline" if offline else "online",
        reinit="finish_previous",
        config={"command": command},
    )
    images = {f"auroc/{cat}": seeds_bars(rows, cat) for cat in sorted({r.category for r in rows})}
    images["auroc_vs_parameters"] = pareto(rows, "parameters")
    logged = {
        "every_setting": _table(wandb, run_records(rows)),
        "table2": wandb.Table(columns=header, data=text),
        "left_out": wandb.Table(
            columns=["status", "run", "reason"],
            data=[[r.status, str(r.path), r.reason] for r in runs if r.status != "ok"],
        ),
        **{k: wandb.Image(Image.open(io.BytesIO(png))) for k, png in images.items() if png is not None},
    }
    run.log(logged)
    run.summary.update({"rows": len(rows), "runs": len(runs), "left_out": sum(r.status != "ok" for r in runs)})
    folder = run.dir
    run.finish()
    return folder
