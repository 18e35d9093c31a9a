"""Checkpoints made before the nested model config (flat hyperparameters, a ``detector`` key,
the flow and the bank straight under the model) load into today's composed detector and give
the scores they gave then (tests/fixtures/legacy_v0/README.md says how they were made)."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from dsn.lit.checkpoints import load_module

LEGACY = Path(__file__).parent / "fixtures" / "legacy_v0"


def rows(csv_file: Path) -> dict[str, float]:
    with open(csv_file, newline="") as f:
        return {"/".join(Path(r["path"]).parts[-2:]): float(r["score"]) for r in csv.DictReader(f)}


@pytest.mark.parametrize(
    "name, style, features, head",
    [
        ("differsqueezenet", "gradient", "pooled", "flow"),
        ("knn", "fitted", "pooled", "knn"),
        ("patchcore", "fitted", "patches", "knn"),
    ],
)
def test_a_flat_checkpoint_loads_as_the_composed_detector(name, style, features, head):
    module = load_module(LEGACY / f"{name}.ckpt")
    assert module.model.head.training_style == style
    assert module.hparams.features["kind"] == features and module.hparams.head["kind"] == head
    assert module.hparams.name == name and module.views.test_views == 4


@pytest.mark.parametrize("name", ["differsqueezenet", "knn", "patchcore"])
def test_a_flat_checkpoint_scores_as_it_did(name, tmp_path):
    out = tmp_path / "scores.csv"
    cmd = [sys.executable, "-m", "dsn.predict", str(LEGACY / f"{name}.ckpt"), str(LEGACY / "images"), "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    then, now = rows(LEGACY / f"{name}.csv"), rows(out)
    assert then.keys() == now.keys() and len(now) == 6
    assert all(abs(now[k] - then[k]) <= 2e-6 for k in then), (then, now)
