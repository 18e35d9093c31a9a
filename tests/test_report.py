"""dsn-report: mean +- std of the last epoch over seeds; best-on-test kept apart and labelled."""

import json

import pytest

from dsn.report import collect, main, summarise


def fake_run(d, seed, auroc, curve, pixel=None, pro=None, map_scale="common"):
    d.mkdir(parents=True)
    m = {
        "model": "differsqueezenet",
        "category": "bottle",
        "seed": seed,
        "epochs": 192,
        "auroc": auroc,
        "curve_test_auroc": curve,
        "pixel_auroc": pixel,
        "pixel_aupro": pro,
        "map_scale": map_scale if pixel is not None else None,
        "backbone": "squeezenet1_1",
        "n_features": 128,
        "n_scales": 3,
        "flow_params": 153_196_544,
    }
    (d / "metrics.json").write_text(json.dumps(m))


def test_report_uses_last_epoch_and_labels_best_on_test(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [[8, 0.99], [192, 0.90]], 0.8, 0.5)
    fake_run(tmp_path / "1", 1, 0.94, [[8, 0.95], [192, 0.94]], 0.9, 0.6)
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["auroc_last_epoch"] == "92.0 ± 2.8"  # mean of 90 and 94, sample std
    assert row["best_epoch_on_test_paper_protocol"] == "97.0 ± 2.8"  # 99 and 95: selected on test
    assert row["pixel_auroc"] == "85.0 ± 7.1" and row["paper"] == 100.0 and row["seeds"] == 2
    assert row["pixel_aupro"] == "55.0 ± 7.1"
    main([str(tmp_path), "--out", str(tmp_path / "out")])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "**92.0 ± 2.8**" in md and "paper's protocol" in md
    assert "| pixel AUPRO (FPR ≤ 0.3) |" in md and "| 55.0 ± 7.1 |" in md
    assert (tmp_path / "out" / "report.csv").read_text().startswith("model,category")


def test_report_without_runs_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no metrics.json"):
        collect([str(tmp_path)])


def test_an_evaluation_of_a_run_adds_to_it_instead_of_counting_as_a_seed(tmp_path):
    run, ev = tmp_path / "run", tmp_path / "run" / "pixel"
    ckpt = str(run / "checkpoints" / "last.ckpt")
    fake_run(run, 0, 0.90, [[192, 0.90]])
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "checkpoint": ckpt, "train_path": "cached"}))
    fake_run(ev, 0, 0.90, [], pixel=0.7)
    m = json.loads((ev / "metrics.json").read_text())
    (ev / "metrics.json").write_text(json.dumps({**m, "checkpoint": ckpt, "epochs": 0}))
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["seeds"] == 1 and row["pixel_auroc"] == "70.0 (1 run)" and row["epochs"] == 192


def test_runs_of_different_length_are_separate_rows(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [])
    fake_run(tmp_path / "1", 1, 0.70, [])
    m = json.loads((tmp_path / "1" / "metrics.json").read_text())
    (tmp_path / "1" / "metrics.json").write_text(json.dumps({**m, "epochs": 24}))
    rows = summarise(collect([str(tmp_path)]))
    assert [(r["epochs"], r["seeds"], r["auroc_last_epoch"]) for r in rows] == [
        (24, 1, "70.0 (1 run)"),
        (192, 1, "90.0 (1 run)"),
    ]


def test_baselines_sit_beside_the_flow_with_what_they_read_and_hold(tmp_path):
    fake_run(tmp_path / "flow", 0, 0.98, [])
    knn = json.loads((tmp_path / "flow" / "metrics.json").read_text())
    knn.update(model="knn", detector="knn", flow_params=0, bank_rows=3344, auroc=0.97)
    (tmp_path / "knn").mkdir()
    (tmp_path / "knn" / "metrics.json").write_text(json.dumps(knn))
    rows = {r["model"]: r for r in summarise(collect([str(tmp_path)]))}
    assert (rows["differsqueezenet"]["features"], rows["differsqueezenet"]["head"]) == (
        "squeezenet1_1 128 x 3",
        "flow 153.2 M",
    )
    assert (rows["knn"]["features"], rows["knn"]["head"]) == ("squeezenet1_1 128 x 3", "knn bank 3,344")


def test_swing_is_the_largest_range_of_the_last_four_curve_points_over_seeds(tmp_path):
    """The stabilisers' measure: how far the test curve moves over its last 4 points (a sweep that
    reads one of them ranks that much noise), the worst seed; earlier points do not count."""
    fake_run(tmp_path / "0", 0, 0.90, [[8, 0.50], [16, 0.91], [24, 0.93], [32, 0.92], [40, 0.90]])
    fake_run(tmp_path / "1", 1, 0.94, [[8, 0.10], [16, 0.95], [24, 0.94], [32, 0.94], [40, 0.94]])
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["swing_last_4"] == "3.0"  # seed 0: 93 - 90; seed 1: 1.0; the 50 and 10 are older
    main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert "swing over the last 4 curve points" in (tmp_path / "out" / "report.md").read_text()


def test_swing_needs_four_curve_points(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [[8, 0.99], [192, 0.90]])
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["swing_last_4"] == "—"


def test_a_sparse_curve_has_no_swing_and_the_row_says_how_many_seeds_have_one(tmp_path):
    """A run scored on the test set only every 48 passes (TRAIN_ARGS of the long 64-view runs): its
    last 4 points span 144 passes, not the 4 meta-epochs the swing is about, so it is left out."""
    fake_run(tmp_path / "0", 0, 0.90, [[48, 0.80], [96, 0.95], [144, 0.85], [192, 0.90]])
    fake_run(tmp_path / "1", 1, 0.94, [[8, 0.10], [168, 0.95], [176, 0.94], [184, 0.93], [192, 0.94]])
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["swing_last_4"] == "2.0 (1 of 2 seeds)"


def test_a_pixel_evaluation_copied_beside_a_run_joins_it_and_old_per_image_pooling_is_labelled(tmp_path):
    """experiments/cpu_tables.sh copies a later dsn-eval's metrics beside the run as
    pixel_metrics.json; it belongs to that run even when it evaluated a rerun's checkpoint."""
    run = tmp_path / "runs" / "patchcore_bottle_1p_s0"
    fake_run(run, 0, 1.0, [])
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "checkpoint": "/a/last.ckpt", "train_path": "cached"}))
    pixel = {**m, "pixel_auroc": 0.978, "pixel_aupro": 0.936, "map_scale": "common", "checkpoint": "/b/last.ckpt"}
    (run / "pixel_metrics.json").write_text(json.dumps(pixel))
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["seeds"] == 1 and row["pixel_auroc"] == "97.8 (1 run)" and row["pixel_aupro"] == "93.6 (1 run)"
    # pooled before 2026-11-30 (no map_scale): each map was min-max scaled per image
    (run / "pixel_metrics.json").write_text(json.dumps({**pixel, "map_scale": None, "pixel_aupro": None}))
    (row,) = summarise(collect([str(tmp_path)]))
    assert row["pixel_auroc"] == "97.8 (1 run) (maps min-max per image)" and row["pixel_aupro"] == "—"
