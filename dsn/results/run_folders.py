"""What a folder of runs holds, run by run: finished, failed, still running, damaged or stopped.

A run directory is any folder with one of the files a run writes: its config
(``.hydra/config.yaml``), ``metrics.json``, ``failure.json`` (a run that ended in an error writes
the one-line reason there) or the lock file. The status comes from those files alone:

- ``running``: another process holds the run's lock (the kernel drops it when that process dies);
- ``damaged``: ``metrics.json`` cannot be parsed (the reason names the file and the parse error);
- ``failed``: ``failure.json`` and no newer ``metrics.json``;
- ``stopped``: a config but no metrics and no failure record (killed, or still to be resumed);
- ``ok``: a parsed ``metrics.json`` with an AUROC.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

LOCK_FILE = ".dsn.lock"
METRICS_FILE = "metrics.json"
FAILURE_FILE = "failure.json"
CONFIG_FILE = ".hydra/config.yaml"
# a later dsn-eval's metrics copied beside a run (experiments/results/cpu_tables): part of that run
PIXEL_FILE = "pixel_metrics.json"
MARKERS = (METRICS_FILE, FAILURE_FILE, LOCK_FILE)  # and CONFIG_FILE, one folder down


@dataclass
class RunFolder:
    path: Path
    status: str
    metrics: dict = field(default_factory=dict)
    reason: str = ""


def is_locked(run_dir: Path) -> bool:
    """Whether a live process holds ``run_dir``'s lock (a shared probe that never takes it over)."""
    lock = run_dir / LOCK_FILE
    if not lock.is_file():
        return False
    with open(lock) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def run_dirs(roots: list[str | Path]) -> list[Path]:
    """Every run directory under ``roots`` (a root may itself be one), sorted; one walk of each
    tree, however large."""
    found: set[Path] = set()
    config_dir, config_name = CONFIG_FILE.split("/")
    for root in map(Path, roots):
        for folder, _, files in os.walk(root):
            here = Path(folder)
            if here.name == config_dir and config_name in files:
                found.add(here.parent)
            if any(marker in files for marker in MARKERS):
                found.add(here)
    return sorted(found)


def read_run(d: Path) -> RunFolder:
    if is_locked(d):
        return RunFolder(d, "running", reason=(d / LOCK_FILE).read_text().strip())
    metrics_file, failure = d / METRICS_FILE, d / FAILURE_FILE
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return RunFolder(d, "damaged", reason=f"{metrics_file}: {err}")
        if not failure.is_file() or failure.stat().st_mtime <= metrics_file.stat().st_mtime:
            if metrics.get("auroc") is None:
                return RunFolder(d, "no AUROC", metrics, metrics.get("auroc_note", "its test set has one class"))
            return RunFolder(d, "ok", {**metrics, "_file": str(metrics_file)})
    if failure.is_file():
        try:
            reason = json.loads(failure.read_text()).get("error", "")
        except json.JSONDecodeError as err:
            reason = f"{failure} cannot be read: {err}"
        return RunFolder(d, "failed", reason=reason)
    return RunFolder(d, "stopped", reason="no metrics.json: killed, or not finished (a rerun resumes it)")


def read_runs(roots: list[str | Path]) -> list[RunFolder]:
    """Every run under ``roots`` with its status (a ``pixel_metrics.json`` beside a run's metrics
    is merged into them by :mod:`dsn.results.report_groups`)."""
    return [read_run(d) for d in run_dirs(roots)]
