"""What a sweep leaves when a worker finishes: the best trial or Pareto front and every trial as
CSV and markdown, Optuna's own plots, and (when the runs log to W&B) a summary run that holds a
table of all trials and the same plots. Every worker that ends writes a fresh copy; files are
replaced atomically, so concurrent workers never leave a mixed file."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
from omegaconf import DictConfig, OmegaConf

from dsn.utils.atomic import atomic_path, write_text_atomic
from dsn.utils.secrets import redact
from dsn.utils.tables import csv_text, markdown_table

log = logging.getLogger(__name__)
COMPLETE = optuna.trial.TrialState.COMPLETE


def metric_names(study: optuna.Study, config: DictConfig) -> list[str]:
    """The objectives' names: the run's ``optimized_metrics`` (keys of metrics.json), one per
    direction; ``objective_<i>`` only where the config names fewer."""
    names = [str(m) for m in (config.get("optimized_metrics") or [])]
    return [names[i] if i < len(names) else f"objective_{i}" for i in range(len(study.directions))]


def trial_rows(study: optuna.Study, names: list[str]) -> list[dict]:
    """One row per trial: number, state, each metric by name, duration, output folder, parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = t.duration.total_seconds() if t.duration else None
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                **dict(zip(names, t.values or [])),
                "duration_s": round(duration, 1) if duration is not None else None,
                "output_dir": t.user_attrs.get("output_dir"),
                **t.params,
            }
        )
    return rows


def _markdown(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return markdown_table(keys, [[r.get(k) for k in keys] for r in rows])


def plots(study: optuna.Study, names: list[str]):
    """Optuna's optimisation history (one objective) or Pareto front (two), as matplotlib figures,
    the metrics' names on their axes."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as ovm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        if len(names) == 1:
            return {"optimization_history": ovm.plot_optimization_history(study, target_name=names[0]).figure}
        if len(names) == 2:
            return {"pareto_front": ovm.plot_pareto_front(study, target_names=names).figure}
    return {}


def write_summary(study: optuna.Study, sweep_dir: Path, storage_url: str, config: DictConfig) -> None:
    """Files in ``sweep_dir`` and, when ``config.logger`` has W&B, a W&B summary run."""
    import matplotlib.pyplot as plt

    storage_url = redact(storage_url)

    names = metric_names(study, config)
    rows = trial_rows(study, names)
    n_obj = len(names)
    best = study.best_trials if any(t.state == COMPLETE for t in study.get_trials(deepcopy=False)) else []
    best_rows = [r for r in rows if r["trial"] in {t.number for t in best}]
    write_text_atomic(sweep_dir / "all_trials.csv", csv_text(rows))
    if best_rows:
        write_text_atomic(sweep_dir / "optimization_results.csv", csv_text(best_rows))
    title = "Best trial" if n_obj == 1 else "Pareto front"
    write_text_atomic(
        sweep_dir / "optimization_results.md",
        f"{title} of study '{study.study_name}' ({len(rows)} trials; objectives "
        f"{', '.join(f'{n} ({d.name.lower()})' for n, d in zip(names, study.directions))}; storage {storage_url})\n\n"
        + (_markdown(best_rows) if best_rows else "no trial has completed\n"),
    )
    figures = plots(study, names) if best else {}
    for name, fig in figures.items():  # per-process temporary file: workers may end together
        with atomic_path(sweep_dir / f"{name}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    wandb_cfg = (config.get("logger") or {}).get("wandb")
    if wandb_cfg and "_target_" in wandb_cfg:
        log_wandb_summary(study, rows, figures, sweep_dir, wandb_cfg)
    for fig in figures.values():
        plt.close(fig)
    n_complete = sum(r["state"] == COMPLETE.name for r in rows)
    log.info(f"{len(rows)} trials ({n_complete} complete); summaries in {sweep_dir} (study in {storage_url})")
    for r in best_rows:  # what the sweep found, in its last lines
        values = ", ".join(f"{n}={r[n]:.4g}" for n in names if r.get(n) is not None)
        params = ", ".join(f"{k}={r[k]}" for k in r if k not in ("trial", "state", "duration_s", "output_dir", *names))
        log.info(f"{title.lower()}: trial {r['trial']}: {values} | {params} | {r['output_dir']}")


def log_wandb_summary(
    study: optuna.Study, rows: list[dict], figures: dict, sweep_dir: Path, wandb_cfg: DictConfig
) -> None:
    """One W&B run, grouped with the trials' runs, holding a table of every trial and the plots."""
    import wandb

    keys = list(dict.fromkeys(k for r in rows for k in r))
    table = wandb.Table(columns=keys, data=[[_plain(r.get(k)) for k in keys] for r in rows])
    offline = bool(OmegaConf.select(wandb_cfg, "offline", default=True))
    run = wandb.init(
        project=OmegaConf.select(wandb_cfg, "project", default="dsn"),
        group=study.study_name,
        name=f"{study.study_name} summary",
        job_type="sweep-summary",
        dir=str(sweep_dir),
        mode="offline" if offline else "online",
        reinit="finish_previous",
        config={"study": study.study_name, "directions": [d.name.lower() for d in study.directions]},
    )
    n_complete = sum(r["state"] == COMPLETE.name for r in rows)
    run.log({"trials": table, **{k: wandb.Image(f) for k, f in figures.items()}})
    run.summary.update({"n_trials": len(rows), "n_complete": n_complete})
    run.finish()


def _plain(v):
    """W&B table cells: numbers and strings; None stays None."""
    return v if v is None or isinstance(v, (int, float, str, bool)) else str(v)
