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


def test_magnetic_tile_table_pairs_each_ablation_seed_with_the_reference_run_of_that_seed(tmp_path):
    """experiments/mt_reference_table.py as its README runs it: the headline is the last epoch's mean
    ± std, and an ablation's change is paired by seed against the reference curve at equal passes."""
    refs = [
        _write_run(
            tmp_path / "ref",
            f"differnet_paper_magnetic_tile_differnet_192p_s{s}",
            seed=s,
            auroc=a,
            epochs=192,
            curve=[[8, 0.81], [16, 0.83], [24, c], [168, 0.81], [176, 0.83], [184, 0.84], [192, a]],
        )
        for s, a, c in [(0, 0.78, 0.84), (1, 0.80, 0.82)]
    ]
    for s, a in [(0, 0.86), (1, 0.85)]:  # +2 and +3 points over the same seed's reference at 24 passes
        _write_run(tmp_path / "abl", f"norot_s{s}", seed=s, auroc=a, epochs=24, model="differnet_norot", views=1)
    # a longer one-factor run trained on another machine: its curve beside seed 0's reference curve
    bank = [[8, 0.80], [16, 0.84], [24, 0.85], [32, 0.86]]
    _write_run(
        tmp_path / "abl",
        "bank64_s0",
        seed=0,
        auroc=0.86,
        epochs=32,
        model="differnet_bank64",
        curve=bank,
        precision="32-true",
    )
    # a stabiliser run at the reference's length: its swing beside the reference's over the same passes;
    # kept with another table's runs and named on its own after the ablation folder, not copied into it
    stable = [[8, 0.79], [168, 0.80], [176, 0.82], [184, 0.83], [192, 0.84]]
    stable_run = _write_run(
        tmp_path / "other", "stable_s0", seed=0, auroc=0.84, epochs=192, model="differnet_stable", curve=stable
    )
    _write_run(tmp_path / "other", "knn_s0", seed=0, auroc=0.70, epochs=1, model="knn_differnet")  # not named
    out = tmp_path / "README.md"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "experiments" / "mt_reference_table.py"),
            *map(str, refs),
            "--ablations",
            str(tmp_path / "abl"),
            str(stable_run),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = out.read_text()
    assert "**Last epoch, 192 passes: 79.0 ± 1.4** over 2 finished seed(s) (seed 0: 78.0, seed 1: 80.0)" in text
    # swing columns: a run without 4 curve points (and a reference cut at 24 passes: 3 points) has none
    assert "| differnet_norot | 24 | 1 | bf16-mixed | 0, 1 | 85.5 ± 0.7 | 83.0 ± 1.4 | 2.5 ± 0.7 | — | — |" in text
    # no reference point at 32
    assert "| differnet_bank64 | 32 | 64 | 32-true | 0 | 86.0 (1 seed) | — | — | 6.0 | — |" in text
    # its own last 4 points 80..84; the reference of seed 0 over the same 192 passes 78..84
    stable_row = "| differnet_stable | 192 | 64 | bf16-mixed | 0 | 84.0 (1 seed) | 78.0 (1 seed) | 6.0 (1 seed) "
    stable_row += "| 4.0 | 6.0 |"
    assert stable_row in text
    assert "knn_differnet" not in text  # a run beside the named one, in a folder not named, stays out
    assert "| passes | differnet_bank64 (64 rotations), seeds 0 | reference, seeds 0 |" in text
    assert "| 24 | 85.0 | 84.0 |" in text and "| 32 | 86.0 | — |" in text
    assert "differnet_norot (1 rotations)" not in text  # a run without a curve beyond its end has no curve column
    assert "Not screened yet: colour jitter" in text  # no jitter run among the ablations


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
