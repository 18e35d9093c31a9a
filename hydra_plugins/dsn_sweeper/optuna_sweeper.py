"""A Hydra sweeper on current Optuna, with resumable storage.

Why not ``hydra-optuna-sweeper``: it pins optuna<3, whose RDB storage breaks on SQLAlchemy 2.
This sweeper keeps Hydra's interface (``hydra/sweeper=dsn_optuna``, any Hydra launcher: basic,
submitit local or SLURM) and uses Optuna's own storage, so:

- the study lives in ``storage`` (default: an SQLite file in the sweep directory's parent, or any
  SQLAlchemy URL shared by many machines); re-running the same command resumes it: completed
  trials are never repeated, trials left RUNNING by a killed sweep are marked FAILED and their
  budget is asked again;
- the random sampler is seeded with ``seed`` plus the number of trials already stored, so a
  resumed sweep draws new points instead of replaying the first ones;
- one objective (``directions: [maximize]``) or several (e.g. AUROC up, flow parameters down):
  the task returns one value per direction; at the end the best trial or the Pareto front is
  written as CSV + markdown next to the study.

Search space (``params``), one entry per config key:
    model.hidden: {type: int, low: 128, high: 4096, log: true}
    model.n_blocks: {type: int, low: 2, high: 12}
    model.n_features: {type: categorical, choices: [64, 128, 256, 384, 512]}
    optimizer.lr: {type: float, low: 1e-5, high: 1e-3, log: true}
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, params: dict[str, dict]) -> dict[str, Any]:
    out = {}
    for key, spec in params.items():
        kind = spec.get("type")
        if kind == "int":
            out[key] = trial.suggest_int(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        elif kind == "float":
            out[key] = trial.suggest_float(key, spec["low"], spec["high"], log=bool(spec.get("log", False)))
        elif kind == "categorical":
            out[key] = trial.suggest_categorical(key, list(spec["choices"]))
        else:
            raise ValueError(f"hydra.sweeper.params.{key}: type must be int, float or categorical, got {kind!r}")
    return out


class DsnOptunaSweeper(Sweeper):
    def __init__(self, study_name: str, storage: str | None, n_trials: int, n_jobs: int = 1, seed: int = 0,
                 directions: list[str] | None = None, params: dict | None = None):
        self.study_name = study_name
        self.storage = storage
        self.n_trials = n_trials
        self.n_jobs = max(1, n_jobs)
        self.seed = seed
        self.directions = list(directions or ["maximize"])
        self.params = OmegaConf.to_container(params, resolve=True) if OmegaConf.is_config(params) else (params or {})
        if not self.params:
            raise ValueError("hydra.sweeper.params is empty: give at least one search dimension")

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def _study(self) -> optuna.Study:
        storage = self.storage or f"sqlite:///{(self.sweep_dir.parent / (self.study_name + '.db')).resolve()}"
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True) \
            if storage.startswith("sqlite:///") else None
        probe = optuna.load_study(study_name=self.study_name, storage=storage) \
            if self.study_name in optuna.get_all_study_names(storage) else None
        done = len(probe.trials) if probe else 0
        sampler = optuna.samplers.RandomSampler(seed=self.seed + done)
        study = optuna.create_study(study_name=self.study_name, storage=storage, sampler=sampler,
                                    directions=self.directions, load_if_exists=True)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            log.warning(f"trial {t.number} was left running by an interrupted sweep: marking it FAILED")
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        log.info(f"study '{self.study_name}' in {storage}: {done} trials stored")
        self.storage_url = storage
        return study

    def sweep(self, arguments: list[str]) -> Any:
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study = self._study()
        complete, failed_in_a_row = optuna.trial.TrialState.COMPLETE, 0
        while (n_done := len(study.get_trials(deepcopy=False, states=(complete,)))) < self.n_trials:
            batch = [study.ask() for _ in range(min(self.n_jobs, self.n_trials - n_done))]
            chosen = [suggest(t, self.params) for t in batch]
            overrides = [tuple(arguments) + tuple(f"{k}={v}" for k, v in c.items()) for c in chosen]
            results = self.launcher.launch(overrides, initial_job_idx=batch[0].number)
            for trial, result in zip(batch, results):
                failed_in_a_row = 0 if self._tell(study, trial, result) else failed_in_a_row + 1
            if failed_in_a_row >= max(3, self.n_jobs):
                raise RuntimeError(f"{failed_in_a_row} trials in a row failed (see their logs under {self.sweep_dir}): "
                                   f"the sweep stops rather than burn its budget; fix the cause and re-run to resume")
        self._write_summary(study)
        return study

    def _tell(self, study: optuna.Study, trial: optuna.Trial, result) -> bool:
        """Record a finished job in the study; False when the trial failed."""
        try:
            value = result.return_value
        except Exception as err:  # the job raised: the trial failed, the sweep goes on
            log.warning(f"trial {trial.number} failed: {err}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return False
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if len(values) != len(self.directions) or any(v is None or not math.isfinite(float(v)) for v in values):
            log.warning(f"trial {trial.number} returned {value!r} for directions {self.directions}: FAILED")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return False
        study.tell(trial, [float(v) for v in values])
        return True

    def _write_summary(self, study: optuna.Study) -> None:
        best = study.best_trials  # one trial, or the Pareto front for several objectives
        rows = [{"trial": t.number, **{f"objective_{i}": v for i, v in enumerate(t.values)}, **t.params} for t in best]
        out = self.sweep_dir / "optimization_results.csv"
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        all_rows = [{"trial": t.number, "state": t.state.name, **{f"objective_{i}": v for i, v in enumerate(t.values or [])},
                     **t.params} for t in study.trials]
        with open(self.sweep_dir / "all_trials.csv", "w", newline="") as f:
            keys = sorted({k for r in all_rows for k in r}, key=lambda k: (k != "trial", k != "state", k))
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(all_rows)
        md = ["| trial | " + " | ".join(k for k in rows[0] if k != "trial") + " |", "|" + " --- |" * len(rows[0])]
        md += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
        title = "Best trial" if len(self.directions) == 1 else "Pareto front"
        (self.sweep_dir / "optimization_results.md").write_text(
            f"{title} of study '{self.study_name}' ({len(study.trials)} trials; objectives "
            f"{', '.join(self.directions)}; storage {self.storage_url})\n\n" + "\n".join(md) + "\n")
        if len(self.directions) == 2:
            self._pareto_png(study, best)
        log.info(f"{len(study.trials)} trials; best/Pareto trials written to {out} (study in {self.storage_url})")

    def _pareto_png(self, study: optuna.Study, front: list) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.scatter([t.values[1] for t in done], [t.values[0] for t in done], c="lightgray", label="trials")
        pts = sorted((t.values[1], t.values[0]) for t in front)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", c="tab:red", label="Pareto front")
        ax.set(xscale="log", xlabel="objective 1 (" + self.directions[1] + ")",
               ylabel="objective 0 (" + self.directions[0] + ")", title=self.study_name)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.sweep_dir / "pareto_front.png", dpi=100)
        plt.close(fig)
