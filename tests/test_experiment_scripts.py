"""The lab scripts in experiments/ still run on today's code (the tables' presets:
tests/test_lab_presets.py)."""

import subprocess
import sys

import pytest
from conftest import REPO, compose

pytestmark = pytest.mark.lab  # guards the lab notebook, not the product (pyproject's markers)


def test_map_scaling_scores_one_checkpoints_maps_both_ways(tmp_path):
    """experiments/map_scaling.py on a debug patch-bank run: both poolings of the same maps, and
    the common-scale one is what the run itself reported."""
    import json

    from conftest import DEBUG, make_tree

    from dsn.train import train

    root = make_tree(tmp_path / "data")
    cfg = compose("train", DEBUG + [f"data.root={root}", "model=patchcore", "model.features.grid=4"], tmp_path / "run")
    metrics = train(cfg)
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "experiments" / "map_scaling.py"),
            str(tmp_path / "run" / "checkpoints" / "last.ckpt"),
            "--root",
            str(root),
            "--category",
            "toy",
            "--rotations",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    got = json.loads(out.stdout)
    assert got["common_scale"]["pixel_auroc"] == pytest.approx(metrics["pixel_auroc"], abs=1e-6)
    assert got["common_scale"]["pixel_aupro"] == pytest.approx(metrics["pixel_aupro"], abs=1e-6)
    assert set(got["per_image_min_max"]) == {"pixel_auroc", "pixel_aupro"}
