"""Runs -> rows of a report: runs are pooled only when their identities are equal, so the runs of
a row differ in seed alone; a row's settings are the keys in which it differs from the other rows
of its model. Everything here is numbers (lists of per-seed values); the tables format them.

A metrics file written before runs recorded their identity (2026-12-06) is grouped by the settings
it does record (:data:`OLD_FILE_KEYS`) and its row is marked: such a file may not say everything
that made it (a test split, the weights), and the report does not guess what it does not say.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from dsn.results.paper_numbers import PAPER_AUROC, PAPER_SETTING
from dsn.results.run_folders import PIXEL_FILE, RunFolder

OLD_FILE_KEYS = (
    "model",
    "backbone",
    "n_features",
    "n_scales",
    "patch_taps",
    "grid",
    "detector",
    "hidden",
    "n_blocks",
    "k",
    "test_views",
    "bank_views",
    "train_path",
    "precision",
    "n_test_good",
    "n_test_defective",
)
# settings that say which images a number was measured on: a report names them in every row as
# soon as two rows of one category differ in them, also rows of different models (a search-half
# number beside a final-half one must say so)
MEASURED_ON = ("data.test_split",)
NOT_A_SETTING = ("data.category", "model.name", "model", "category")
META_EPOCH = 8  # passes between test-curve points in the reference and dsn's default (check_val_every_n_epoch)


@dataclass
class Row:
    model: str
    category: str
    setting: dict  # the identity without the category (the same for every seed)
    runs: list[dict]
    recorded: bool  # False: an old metrics file, grouped by the keys it records
    settings: dict = field(default_factory=dict)  # the keys in which this row differs from its model's others

    @property
    def seeds(self) -> list[int]:
        return [m.get("seed") for m in self.runs]

    @property
    def epochs(self) -> int:
        return self.runs[0]["epochs"]

    def values(self, key: str) -> list[float]:
        """Per-seed values (in %) of a 0-1 metric, for the seeds that have it."""
        return [100 * v for v in self.raw(key)]

    def raw(self, key: str) -> list[float]:
        """Per-seed values of a measurement as recorded (seconds, MB), for the seeds that have it."""
        return [float(m[key]) for m in self.runs if m.get(key) is not None]

    def stage_seconds(self, stage: str) -> list[float]:
        """Per-seed seconds of one stage of the run (``wall_time_s_by_stage``), where recorded."""
        return [
            float(m["wall_time_s_by_stage"][stage]) for m in self.runs if stage in m.get("wall_time_s_by_stage", {})
        ]

    @property
    def best_on_test(self) -> list[float]:
        """Each seed's best test-curve point: selected on the test set (the paper's protocol)."""
        return [100 * max([m["auroc"]] + [c[1] for c in m.get("curve_test_auroc", [])]) for m in self.runs]

    @property
    def maps_per_image(self) -> bool:
        """Pixel AUROC pooled before 2026-11-30 had each map min-max scaled per image."""
        return any(m.get("pixel_auroc") is not None and m.get("map_scale") != "common" for m in self.runs)

    @property
    def paper(self) -> float | None:
        """The published number, only beside a row that is the paper's setting with trained weights."""
        wanted = PAPER_SETTING.get(self.model)
        if not self.recorded or wanted is None or self.setting.get("model.features.weights") == "random":
            return None
        if any(self.setting.get(k) != v for k, v in wanted.items()):
            return None
        return PAPER_AUROC[self.model].get(self.category)

    def swing(self, points: int = 4) -> tuple[float | None, int]:
        """(largest max - min of a seed's last ``points`` test-curve points, how many seeds have
        such a tail). Only points one meta-epoch apart count: a sparser curve says nothing of how
        a score read near the end depends on the epoch it is read at."""
        ranges = []
        for m in self.runs:
            tail = sorted(m.get("curve_test_auroc", []))[-points:]
            if len(tail) == points and all(b[0] - a[0] == META_EPOCH for a, b in zip(tail, tail[1:])):
                ranges.append(100 * (max(a for _, a in tail) - min(a for _, a in tail)))
        return (max(ranges) if ranges else None), len(ranges)


def mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def with_evaluations(runs: list[RunFolder]) -> list[dict]:
    """One record per trained model and measurement: a ``dsn-eval`` of a run's checkpoint that
    measures what the run measured (e.g. to add pixel AUROC afterwards; its own folder, or
    ``pixel_metrics.json`` beside the run) fills what the run left empty and is never counted as
    another seed; one that measured something else (another test split, test views or score
    quantile: another identity) is a record of its own, whatever else was evaluated of that
    checkpoint, and is never dropped."""
    by_model: dict[str, dict] = {}
    finished = [r for r in runs if r.status == "ok"]
    records = [(r.metrics, r.metrics) for r in finished]  # (a record, the metrics of its run)
    records += [
        (json.loads((r.path / PIXEL_FILE).read_text()), r.metrics) for r in finished if (r.path / PIXEL_FILE).is_file()
    ]
    for m, of_run in records:
        model = str(Path(of_run["checkpoint"]).resolve()) if of_run.get("checkpoint") else of_run["_file"]
        key = json.dumps([model, measured(of_run)], sort_keys=True, default=str)
        if key in by_model:
            train, other = (m, by_model[key]) if "train_path" in m else (by_model[key], m)
            m = {**train, **{k: v for k, v in other.items() if train.get(k) is None}}
        by_model[key] = m
    return list(by_model.values())


def measured(m: dict) -> dict:
    """What a record measured: its identity, less the precision it was scored at (a ``dsn-eval``
    runs at the eval command's precision; its scores are those of the same weights)."""
    identity, _ = identity_of(m)
    identity.pop("trainer.precision", None)
    return identity


def identity_of(m: dict) -> tuple[dict, bool]:
    """(the run's identity, whether the run recorded it); old files: the settings they record."""
    if m.get("identity"):
        return dict(m["identity"]), True
    return {k: m[k] for k in OLD_FILE_KEYS if m.get(k) is not None}, False


def group(records: list[dict]) -> list[Row]:
    """Rows of runs with equal identities (and equal passes: runs of different lengths never pool),
    sorted by model, category and settings; each row's ``settings`` filled in."""
    rows: dict[str, Row] = {}
    for m in records:
        identity, recorded = identity_of(m)
        category = identity.pop("data.category", None) or m["category"]
        setting = {k: v for k, v in identity.items() if k not in NOT_A_SETTING}
        key = json.dumps([m["model"], category, m["epochs"], recorded, setting], sort_keys=True, default=str)
        if key not in rows:
            rows[key] = Row(m["model"], category, setting, [], recorded)
        rows[key].runs.append(m)
    out = sorted(
        rows.values(), key=lambda r: (r.model, r.category, r.epochs, json.dumps(r.setting, sort_keys=True, default=str))
    )
    for row in out:
        row.runs.sort(key=lambda m: (m.get("seed") is None, m.get("seed")))
    name_settings(out)
    return out


def name_settings(rows: list[Row]) -> None:
    """Each row's ``settings``: the keys whose values differ among the rows of its model within
    one category (missing shows as None), so two rows of one model are never told apart by
    nothing, and a value that only follows the category (an old file's test-set size) is not named;
    and :data:`MEASURED_ON` wherever rows differ in it.
    Rows of old files are compared among themselves (their keys are named differently)."""
    # what a number was measured on: named in every row once two rows of a category differ in it
    measured_on = {
        k
        for k in MEASURED_ON
        for category in {r.category for r in rows}
        if len({json.dumps(r.setting.get(k), default=str) for r in rows if r.recorded and r.category == category}) > 1
    }
    for model, recorded in {(r.model, r.recorded) for r in rows}:
        mine = [r for r in rows if r.model == model and r.recorded == recorded]
        differ: set[str] = set(measured_on) if recorded else set()
        for category in {r.category for r in mine}:
            here = [r for r in mine if r.category == category]
            keys = {k for r in here for k in r.setting}
            differ |= {k for k in keys if len({json.dumps(r.setting.get(k), default=str) for r in here}) > 1}
        for r in mine:
            r.settings = {k: r.setting.get(k) for k in sorted(differ)}


def differing_keys(rows: list[Row]) -> list[str]:
    """Every key that names a setting of some row, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r.settings))
