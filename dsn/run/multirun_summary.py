"""The end of a plain multirun (seeds, a backbone comparison): one summary of its jobs.

A Hydra callback (``conf/hydra/default.yaml``): after the last job it reads the sweep folder's
runs (:mod:`dsn.results.run_folders`) and prints how many finished, failed and were skipped (a
model whose weights cannot be had here), each failure with its one-line reason, and the command
that tabulates them. The command exits with status 1 when a job failed, 0 otherwise. Search
sweeps (``hparams_search=...``) print their own summary.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# errors that mean "this model cannot be had on this machine", not "this run broke"
SKIPPED = ("WeightsUnavailable",)


class MultirunSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from dsn.results.run_folders import read_runs
        from dsn.run.cli_errors import BASIC_SWEEPER

        if config.hydra.sweeper._target_ != BASIC_SWEEPER:
            return
        folder = config.hydra.sweep.dir
        runs = read_runs([folder])
        skipped = [r for r in runs if r.status == "failed" and r.reason.startswith(SKIPPED)]
        failed = [r for r in runs if r.status != "ok" and r not in skipped]
        ok = len(runs) - len(failed) - len(skipped)
        lines = [f"multirun: {ok} finished, {len(failed)} failed, {len(skipped)} skipped in {folder}"]
        lines += [f"  skipped {r.path.name}: {r.reason}" for r in skipped]
        lines += [f"  {r.status} {r.path.name}: {r.reason}" for r in failed]
        if ok:
            lines.append(f"  tabulate: dsn-report {folder} --html")
        print("\n".join(lines), file=sys.stderr, flush=True)
        if failed:
            raise SystemExit(1)
