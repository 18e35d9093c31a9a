"""The run names of experiments/cpu_tables.sh (the commands behind the results tables) compose into
configs that pass dsn-train's own checks, so a table's documented command cannot rot unnoticed."""

import re
import subprocess
import sys

import pytest
from conftest import REPO, compose

from dsn.config.config_checks import check_train_config

SCRIPT = REPO / "experiments" / "cpu_tables.sh"
NAMES = re.findall(r"^    ([A-Za-z0-9_]+)\) echo", SCRIPT.read_text(), flags=re.M)


def overrides_of(name: str) -> list[str]:
    out = subprocess.run(
        ["bash", str(SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "PRINT_ARGS": name, "DSN_SHARED": "/shared"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.split()


def recording_python(tmp_path):
    """A stand-in for the venv's python: runs the script's `-c` snippets for real and records the
    dsn commands (one line each in the returned file) instead of running them."""
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "python"
    stub.write_text(f'#!/bin/bash\nif [[ $1 == -c ]]; then exec {sys.executable} "$@"; fi\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    return stub, calls


def test_the_script_lists_the_tables_runs():
    assert {"differnet_paper", "full_3scale", "full_3scale_small", "knn_full_3scale", "patchcore"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_run_name_composes_a_valid_config(tmp_path, name):
    overrides = overrides_of(name)
    assert overrides, f"{name} prints no overrides"
    cfg = compose("train", [*overrides, "trainer=cpu_fast", "seed=1"], tmp_path)
    check_train_config(cfg)
    assert cfg.feature_cache.bank_views == (64 if name.endswith("_bank64") else 16)
    # every run uses the shared offline weights; Lite0's come with its package
    assert (
        str(cfg.model.features.weights).startswith("/shared/weights/")
        or cfg.model.features.backbone == "efficientnet_lite0"
    )
    if any(o.startswith("task_name=") for o in overrides):
        assert cfg.task_name == name, f"{name} writes its runs under task_name={cfg.task_name}"


def test_the_pixel_pass_takes_each_finished_runs_category_from_its_metrics(tmp_path):
    """The pixel-AUROC pass after the runs: a run name with its own underscores (full_3scale_small,
    patchcore) still gets its category, and an unfinished run's checkpoint is not scored (its pixel
    result would be kept and never redone once the run finishes). A run made without figures
    (`figures.enabled=false`) still has its metrics copied, and the script still exits 0."""
    import json
    import os

    out = tmp_path / "out"
    for name, category, finished in [
        ("full_3scale_small_bottle_192p_s0", "bottle", True),
        ("patchcore_magnetic_tile_differnet_1p_s1", "magnetic_tile_differnet", True),
        ("differnet_paper_bottle_192p_s2", "bottle", False),
    ]:
        run = out / name
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "last.ckpt").write_text("")
        if not name.startswith("patchcore"):  # made with figures.enabled=false
            (run / "figures").mkdir()
            (run / "figures" / "curve.png").write_text("")
        if finished:
            (run / "metrics.json").write_text(json.dumps({"category": category}))
    stub, calls = recording_python(tmp_path)
    env = {"PATH": os.environ["PATH"], "PLAN": " ", "OUT": str(out), "RESULTS": str(tmp_path / "results")}
    env |= {"PYTHON": str(stub), "DSN_SHARED": "/shared", "PIXEL_ROTATIONS": "8"}
    # exit status 0 (it used to end on a failed test when the last run had no pixel result)
    subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=True)
    evaluated = [
        (re.search(r"ckpt_path=\S*/out/([^/]+)/", line)[1], re.search(r"data\.category=(\S+)", line)[1])
        for line in calls.read_text().splitlines()
        if "dsn.evaluate" in line
    ]
    assert evaluated == [
        ("full_3scale_small_bottle_192p_s0", "bottle"),
        ("patchcore_magnetic_tile_differnet_1p_s1", "magnetic_tile_differnet"),
    ]
    results = tmp_path / "results" / "runs"
    assert (results / "patchcore_magnetic_tile_differnet_1p_s1" / "metrics.json").is_file()
    assert (results / "full_3scale_small_bottle_192p_s0" / "curve.png").is_file()


def test_train_args_reach_every_run_after_the_run_names_own_overrides(tmp_path):
    """TRAIN_ARGS (e.g. a sparser test-set curve for the long 64-view runs) is added to each run's
    dsn-train command, after the run name's overrides so that it wins; without it the command is
    the run name's alone."""
    import os

    stub, calls = recording_python(tmp_path)
    extra = "trainer.check_val_every_n_epoch=48 +callbacks.model_checkpoint.save_on_train_epoch_end=true"
    for train_args in (extra, ""):
        env = {"PATH": os.environ["PATH"], "OUT": str(tmp_path / "out"), "RESULTS": str(tmp_path / "results")}
        env |= {"PYTHON": str(stub), "DSN_SHARED": "/shared", "PIXEL_ROTATIONS": "0", "TRAIN_ARGS": train_args}
        env |= {"PLAN": "differnet_bank64 magnetic_tile_differnet 192 0\ndiffernet_paper bottle 24 1"}
        calls.unlink(missing_ok=True)
        subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=True)
        trains = [line.split() for line in calls.read_text().splitlines() if "dsn.train" in line]
        assert len(trains) == 2
        for args in trains:
            assert args.index("trainer=cpu_fast") < len(args) - 2
            if train_args:
                assert args[-2:] == extra.split(), args
            else:
                assert not set(extra.split()) & set(args), args


def test_the_small_flow_runs_change_only_the_flow_size(tmp_path):
    paper, small = (compose("train", overrides_of(n), tmp_path / n) for n in ("full_3scale", "full_3scale_small"))
    assert (
        paper.model.features.n_features,
        paper.model.features.n_scales,
        paper.model.head.n_blocks,
        paper.model.head.hidden,
    ) == (512, 3, 8, 2048)
    assert (small.model.head.n_blocks, small.model.head.hidden) == (5, 391)
    for part in ("features", "views", "optimizer"):
        assert small.model[part] == paper.model[part], part


def _write_run(folder, name, *, seed, auroc, epochs, model="differnet", views=64, curve=None, precision="bf16-mixed"):
    import json

    run = folder / name
    run.mkdir(parents=True)
    metrics = {"category": "magnetic_tile_differnet", "model": model, "seed": seed, "auroc": auroc}
    metrics |= {"epochs": epochs, "test_views": views, "curve_test_auroc": curve or [[epochs, auroc]]}
    metrics["precision"] = precision
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


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
