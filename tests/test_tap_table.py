"""experiments/tap_table.py puts each run in its cell, and the committed tap table (with its copy in
same_features/README.md) is what the script gives on the committed runs."""

import importlib.util

from conftest import REPO


def _tap_table_module():
    spec = importlib.util.spec_from_file_location("tap_table", REPO / "experiments" / "tap_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tap_table_puts_each_run_in_its_tap_data_and_head_cell():
    tap_table = _tap_table_module()

    def run(model, auroc, *, detector="flow", epochs=192, blocks=8, hidden=2048, n=512, scales=3, views=64, **bank):
        return bank | {
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
        run("knn_full_3scale_bank64", 0.30, detector="knn", epochs=1),  # the training-bank factor: left out
        run("knn_full_3scale", 0.20, detector="knn", epochs=1, bank_views=64),  # a 64-view bank by its record: left out
        run("squeezenet_full_3scale", 0.20, bank_views=None),  # fresh views every step, recorded: left out
        run("knn_full_3scale", 0.95, detector="knn", epochs=1, bank_views=16),  # the tables' own bank, recorded
        run("knn_full_1scale_T8", 0.99, detector="knn", epochs=1, scales=1, views=8),
    ]
    text = tap_table.table(runs, passes=192)
    lines = text.splitlines()
    assert lines[0] == "| features (tap) | data | flow 8 x 2048 (paper) | flow 5 x 391 | kNN |"
    assert "| squeezenet1_1 512 x 3 | bottle | 92.0 ± 2.8 (2 seeds) | 97.0 (1 seed) | 95.0 ± 0.0 (2 seeds) |" in lines
    assert "| squeezenet1_1 512 x 1 | bottle | — | — | 99.0 (1 seed, T=8) |" in lines


def test_the_committed_tap_table_and_its_readme_copy_are_the_committed_runs_table():
    """tap_table.md and the copy in same_features/README.md are edited by hand after each new run;
    both must be what the script gives on the committed runs (the folders its Command line names)."""
    tap_table = _tap_table_module()
    results = REPO / "experiments" / "results"
    folders = ["cpu_tables/runs", "cpu_bottle/differsqueezenet_192pass_s0", "same_features/runs", "mt_reference/runs"]
    expected = tap_table.table(tap_table.collect([str(results / f) for f in folders]), passes=192).splitlines()
    committed = (results / "same_features" / "tap_table.md").read_text().splitlines()
    assert [line for line in committed if line.startswith("| ")] == expected
    readme = (results / "same_features" / "README.md").read_text().splitlines()
    start = readme.index(expected[0])
    assert readme[start : start + len(expected)] == expected
