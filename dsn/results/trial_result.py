"""A sweep trial's result on disk, beside its run: ``<trial dir>/objective.json``.

A trial that finished training has its objective values here before its worker tells the study.
If the telling fails (the database is down, the worker is killed in between), the next worker to
look at the study counts the trial COMPLETE with exactly these values instead of failing it and
training a replacement. Imports no torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from dsn.utils.atomic import write_json

FILE = "objective.json"


def write_trial_result(run_dir: str | Path, names: list[str], values: list[float]) -> Path:
    return write_json(Path(run_dir) / FILE, {"metrics": list(names), "values": [float(v) for v in values]})


def read_trial_result(run_dir: str | Path | None, n_values: int) -> list[float] | None:
    """The stored values, or None when there are none (or not ``n_values`` finite ones)."""
    if not run_dir:
        return None
    try:
        values = json.loads((Path(run_dir) / FILE).read_text())["values"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(values) != n_values or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return None
    return [float(v) for v in values]
