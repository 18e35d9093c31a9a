"""The run names of experiments/cpu_tables.sh (the commands behind the results tables) compose into
configs that pass dsn-train's own checks, so a table's documented command cannot rot unnoticed."""

import re
import subprocess

import pytest
from conftest import REPO, compose

from dsn.engine.config_checks import check_train_config

SCRIPT = REPO / "experiments" / "cpu_tables.sh"
NAMES = re.findall(r"^    ([a-z0-9_]+)\) echo", SCRIPT.read_text(), flags=re.M)


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


def test_the_script_lists_the_tables_runs():
    assert {"differnet_paper", "full_3scale", "full_3scale_small", "knn_full_3scale", "patchcore"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_run_name_composes_a_valid_config(tmp_path, name):
    overrides = overrides_of(name)
    assert overrides, f"{name} prints no overrides"
    cfg = compose("train", [*overrides, "trainer=cpu_fast", "feature_cache.bank_views=16", "seed=1"], tmp_path)
    check_train_config(cfg)
    assert str(cfg.model.weights).startswith("/shared/weights/") or name == "backbone_lite0"
    if any(o.startswith("task_name=") for o in overrides):
        assert cfg.task_name == name, f"{name} writes its runs under task_name={cfg.task_name}"


def test_the_small_flow_runs_change_only_the_flow_size(tmp_path):
    paper, small = (compose("train", overrides_of(n), tmp_path / n) for n in ("full_3scale", "full_3scale_small"))
    assert (paper.model.n_features, paper.model.n_scales, paper.model.n_blocks, paper.model.hidden) == (512, 3, 8, 2048)
    assert (small.model.n_blocks, small.model.hidden) == (5, 391)
    for key in ("backbone", "n_features", "n_scales", "train_views", "test_views", "lr"):
        assert small.model[key] == paper.model[key], key


def _tap_table_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("tap_table", REPO / "experiments" / "tap_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tap_table_puts_each_run_in_its_tap_data_and_head_cell():
    tap_table = _tap_table_module()

    def run(model, auroc, *, detector="flow", epochs=192, blocks=8, hidden=2048, n=512, scales=3, views=64):
        return {
            "model": model,
            "auroc": auroc,
            "detector": detector,
            "epochs": epochs,
            "n_blocks": blocks,
            "hidden": hidden,
            "backbone": "squeezenet1_1",
            "n_features": n,
            "n_scales": scales,
            "category": "bottle",
            "test_views": views,
        }

    runs = [
        run("squeezenet_full_3scale", 0.90),
        run("squeezenet_full_3scale", 0.94),
        run("squeezenet_full_3scale", 0.10, epochs=24),  # another schedule: left out
        run("squeezenet_full_3scale_small", 0.97, blocks=5, hidden=391),
        run("knn_full_3scale", 0.95, detector="knn", epochs=1),
        run("knn_full_3scale_norot", 0.50, detector="knn", epochs=1),  # another protocol: left out
        run("knn_full_1scale_T8", 0.99, detector="knn", epochs=1, scales=1, views=8),
    ]
    text = tap_table.table(runs, passes=192)
    lines = text.splitlines()
    assert lines[0] == "| features (tap) | data | flow 8 x 2048 (paper) | flow 5 x 391 | kNN |"
    assert "| squeezenet1_1 512 x 3 | bottle | 92.0 ± 2.8 (2 seeds) | 97.0 (1 seed) | 95.0 (1 seed) |" in lines
    assert "| squeezenet1_1 512 x 1 | bottle | — | — | 99.0 (1 seed, T=8) |" in lines
