"""dsn-report: mean +- std of the last epoch over seeds; best-on-test kept apart and labelled."""

import json

import pytest

from dsn.report import build, main
from dsn.results.report_tables import run_csv, swing_cell
from dsn.utils.tables import mean_std


def rows_of(d):
    return build([str(d)])[0]


def one_row(d):
    (row,) = rows_of(d)
    return row


PAPER = {  # the paper's setting (conf/model/differsqueezenet.yaml) with trained weights
    "model.features.backbone": "squeezenet1_1",
    "model.features.n_features": 128,
    "model.features.n_scales": 3,
    "model.features.weights": "sha256:0ec7672d9c56",
    "model.head.kind": "flow",
    "data.category": "bottle",
    "data.image_size": 448,
    "data.test_split": "all",
}


def fake_run(d, seed, auroc, curve, pixel=None, pro=None, map_scale="common", identity=PAPER):
    d.mkdir(parents=True)
    m = {
        "identity": identity,
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
    row = one_row(tmp_path)
    assert mean_std(row.values("auroc")) == "92.0 ± 2.8"  # mean of 90 and 94, sample std
    assert mean_std(row.best_on_test) == "97.0 ± 2.8"  # 99 and 95: selected on test
    assert row.paper == 100.0 and row.seeds == [0, 1]
    assert mean_std(row.values("pixel_auroc")) == "85.0 ± 7.1" and mean_std(row.values("pixel_aupro")) == "55.0 ± 7.1"
    main([str(tmp_path), "--out", str(tmp_path / "out")])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "**92.0 ± 2.8**" in md and "paper's protocol" in md
    assert "| pixel AUPRO (FPR ≤ 0.3) |" in md and "| 55.0 ± 7.1 |" in md
    csv = (tmp_path / "out" / "report.csv").read_text().splitlines()
    assert csv[0].startswith("model,category,features") and ",92.0,2.828,2," in csv[1]


def test_published_numbers_only_beside_the_papers_setting_with_trained_weights(tmp_path):
    fake_run(tmp_path / "paper", 0, 0.90, [])
    fake_run(tmp_path / "random", 0, 0.50, [], identity={**PAPER, "model.features.weights": "random"})
    fake_run(tmp_path / "small", 0, 0.80, [], identity={**PAPER, "data.image_size": 224})
    rows = rows_of(tmp_path)
    assert [(r.settings["data.image_size"], r.settings["model.features.weights"], r.paper) for r in rows] == [
        (224, "sha256:0ec7672d9c56", None),
        (448, "random", None),
        (448, "sha256:0ec7672d9c56", 100.0),
    ]


def test_runs_of_different_length_are_separate_rows(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [])
    fake_run(tmp_path / "1", 1, 0.70, [])
    m = json.loads((tmp_path / "1" / "metrics.json").read_text())
    (tmp_path / "1" / "metrics.json").write_text(json.dumps({**m, "epochs": 24}))
    assert [(r.epochs, r.seeds, r.values("auroc")) for r in rows_of(tmp_path)] == [
        (24, [1], [70.0]),
        (192, [0], [90.0]),
    ]


def test_an_old_file_without_identity_is_grouped_by_what_it_records_and_marked(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [], identity=None)
    fake_run(tmp_path / "1", 1, 0.92, [], identity=None)
    fake_run(tmp_path / "2", 2, 0.92, [], identity=None)
    m = json.loads((tmp_path / "2" / "metrics.json").read_text())
    (tmp_path / "2" / "metrics.json").write_text(json.dumps({**m, "n_test_good": 10}))  # another test set
    rows = rows_of(tmp_path)
    assert sorted((r.recorded, r.seeds, r.paper) for r in rows) == [(False, [0, 1], None), (False, [2], None)]
    main([str(tmp_path), "--out", str(tmp_path / "out")])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| differsqueezenet† | bottle | — |" in md and "| 10 |" in md and "before runs recorded their identity" in md


def test_an_evaluation_of_a_run_adds_to_it_instead_of_counting_as_a_seed(tmp_path):
    run, ev = tmp_path / "run", tmp_path / "run" / "pixel"
    ckpt = str(run / "checkpoints" / "last.ckpt")
    fake_run(run, 0, 0.90, [[192, 0.90]])
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "checkpoint": ckpt, "train_path": "cached"}))
    fake_run(ev, 0, 0.90, [], pixel=0.7)
    m = json.loads((ev / "metrics.json").read_text())
    (ev / "metrics.json").write_text(json.dumps({**m, "checkpoint": ckpt, "epochs": 0}))
    row = one_row(tmp_path)
    assert row.seeds == [0] and row.values("pixel_auroc") == [70.0] and row.epochs == 192


def test_evaluations_that_measured_something_else_are_rows_of_their_own(tmp_path):
    """Evaluations of one checkpoint on the search and final halves of test/ (to choose a score
    quantile on one and report it on the other) are measurements of their own: each is kept, none
    fills in the run's row. Before, every evaluation of a checkpoint collapsed into one record and
    the report silently kept one of them. The precision an evaluation ran at is not a difference."""
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    trained = {**PAPER, "trainer.precision": "bf16-mixed"}
    fake_run(tmp_path / "run", 0, 0.90, [[192, 0.90]], identity=trained)
    evals = {"search": 0.80, "final": 0.85}
    for split, auroc in evals.items():
        fake_run(tmp_path / split, 0, auroc, [], identity={**PAPER, "data.test_split": split})
    fake_run(tmp_path / "pixel", 0, 0.90, [], pixel=0.7, identity={**PAPER, "trainer.precision": "32-true"})
    for d in ("run", "search", "final", "pixel"):
        m = json.loads((tmp_path / d / "metrics.json").read_text())
        extra = {"train_path": "cached"} if d == "run" else {}
        (tmp_path / d / "metrics.json").write_text(json.dumps({**m, "checkpoint": ckpt, **extra}))
    rows = {r.setting.get("data.test_split"): r for r in rows_of(tmp_path)}
    assert sorted(rows) == ["all", "final", "search"]
    assert {k: r.values("auroc") for k, r in rows.items()} == {"all": [90.0], "final": [85.0], "search": [80.0]}
    assert rows["all"].values("pixel_auroc") == [70.0] and rows["all"].seeds == [0]  # the same measurement: joined


def test_baselines_sit_beside_the_flow_with_what_they_read_and_hold(tmp_path):
    fake_run(tmp_path / "flow", 0, 0.98, [])
    knn = json.loads((tmp_path / "flow" / "metrics.json").read_text())
    knn.update(model="knn", detector="knn", flow_params=0, bank_rows=3344, auroc=0.97)
    knn["identity"] = {**knn["identity"], "model.head.kind": "knn"}
    (tmp_path / "knn").mkdir()
    (tmp_path / "knn" / "metrics.json").write_text(json.dumps(knn))
    csv = run_csv(rows_of(tmp_path))
    assert "differsqueezenet,bottle,squeezenet1_1 128 x 3,flow 153.2 M," in csv
    assert "knn,bottle,squeezenet1_1 128 x 3,knn bank 3,344," in csv.replace('"', "")


def test_swing_is_the_largest_range_of_the_last_four_curve_points_over_seeds(tmp_path):
    """The stabilisers' measure: how far the test curve moves over its last 4 points (a sweep that
    reads one of them ranks that much noise), the worst seed; earlier points do not count."""
    fake_run(tmp_path / "0", 0, 0.90, [[8, 0.50], [16, 0.91], [24, 0.93], [32, 0.92], [40, 0.90]])
    fake_run(tmp_path / "1", 1, 0.94, [[8, 0.10], [16, 0.95], [24, 0.94], [32, 0.94], [40, 0.94]])
    assert swing_cell(one_row(tmp_path)) == "3.0"  # seed 0: 93 - 90; seed 1: 1.0; the 50 and 10 are older
    main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert "swing over the last 4 curve points" in (tmp_path / "out" / "report.md").read_text()


def test_swing_needs_four_curve_points(tmp_path):
    fake_run(tmp_path / "0", 0, 0.90, [[8, 0.99], [192, 0.90]])
    assert swing_cell(one_row(tmp_path)) == "—"


def test_a_sparse_curve_has_no_swing_and_the_row_says_how_many_seeds_have_one(tmp_path):
    """A run scored on the test set only every 48 passes: its last 4 points span 144 passes, not
    the 4 meta-epochs the swing is about, so it is left out."""
    fake_run(tmp_path / "0", 0, 0.90, [[48, 0.80], [96, 0.95], [144, 0.85], [192, 0.90]])
    fake_run(tmp_path / "1", 1, 0.94, [[8, 0.10], [168, 0.95], [176, 0.94], [184, 0.93], [192, 0.94]])
    assert swing_cell(one_row(tmp_path)) == "2.0 (1 of 2 seeds)"


def test_a_pixel_evaluation_copied_beside_a_run_joins_it_and_old_per_image_pooling_is_labelled(tmp_path):
    """A later dsn-eval's metrics copied beside the run as pixel_metrics.json belong to that run,
    even when it evaluated a rerun's checkpoint."""
    run = tmp_path / "runs" / "patchcore_bottle_1p_s0"
    fake_run(run, 0, 1.0, [])
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "checkpoint": "/a/last.ckpt", "train_path": "cached"}))
    pixel = {**m, "pixel_auroc": 0.978, "pixel_aupro": 0.936, "map_scale": "common", "checkpoint": "/b/last.ckpt"}
    (run / "pixel_metrics.json").write_text(json.dumps(pixel))
    row = one_row(tmp_path)
    assert (
        row.seeds == [0] and row.values("pixel_auroc") == [97.8] and row.values("pixel_aupro") == pytest.approx([93.6])
    )
    # pooled before 2026-11-30 (no map_scale): each map was min-max scaled per image
    (run / "pixel_metrics.json").write_text(json.dumps({**pixel, "map_scale": None, "pixel_aupro": None}))
    row = one_row(tmp_path)
    assert row.maps_per_image and row.values("pixel_aupro") == []


def test_run_table_shows_each_runs_cost_and_the_figures_share(tmp_path):
    """Minutes per run and, of them, the figures stage (drawing maps can cost more than training);
    runs that did not record a stage show — rather than a made-up zero."""
    from dsn.results.report_tables import run_table_cells

    for seed, (wall, figures) in enumerate([(600.0, 30.0), (660.0, 42.0)]):
        fake_run(tmp_path / "new" / str(seed), seed, 0.9, [[192, 0.9]])
        path = tmp_path / "new" / str(seed) / "metrics.json"
        m = json.loads(path.read_text())
        path.write_text(
            json.dumps({**m, "wall_time_s": wall, "wall_time_s_by_stage": {"fit": 500.0, "figures": figures}})
        )
    header, (cells,) = run_table_cells(rows_of(tmp_path / "new"))
    assert cells[header.index("minutes per run")] == "10.5" and cells[header.index("of it figures (min)")] == "0.6"
    fake_run(tmp_path / "old" / "0", 0, 0.9, [[192, 0.9]])
    header, (cells,) = run_table_cells(rows_of(tmp_path / "old"))
    assert cells[header.index("minutes per run")] == cells[header.index("of it figures (min)")] == "—"


def test_the_defect_table_shows_each_type_over_seeds_only_for_runs_that_record_it(tmp_path):
    for seed, crack in ((0, 0.80), (1, 0.90)):
        fake_run(tmp_path / "new" / str(seed), seed, 0.9, [[192, 0.9]])
        m = json.loads((tmp_path / "new" / str(seed) / "metrics.json").read_text())
        m["auroc_by_defect"] = {"crack": crack, "uneven": 0.95}
        (tmp_path / "new" / str(seed) / "metrics.json").write_text(json.dumps(m))
    main([str(tmp_path / "new"), "--out", str(tmp_path / "out")])
    md = (tmp_path / "out" / "by_defect.md").read_text()
    assert "| model | category | n | all defects | crack | uneven |" in md
    assert "| differsqueezenet | bottle | 2 | 90.0 ± 0.0 | 85.0 ± 7.1 | 95.0 ± 0.0 |" in md
    fake_run(tmp_path / "old" / "0", 0, 0.9, [[192, 0.9]])  # written before runs recorded it: no such file
    main([str(tmp_path / "old"), "--out", str(tmp_path / "out_old")])
    assert not (tmp_path / "out_old" / "by_defect.md").exists() and (tmp_path / "out_old" / "report.md").exists()


def test_rows_of_different_models_name_the_test_split_when_a_category_holds_two(tmp_path):
    """A search-half number beside a final-half one says so, also across models (the SqueezeNet
    patch bank's search-half rows in patch_flow/score_choice did not)."""
    fake_run(tmp_path / "a", 0, 0.8, [[192, 0.8]], identity={**PAPER, "data.test_split": "search"})
    other = {**PAPER, "data.test_split": "final", "model.head.kind": "knn"}
    fake_run(tmp_path / "b", 0, 0.9, [[192, 0.9]], identity=other)
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    (tmp_path / "b" / "metrics.json").write_text(json.dumps({**m, "model": "knn"}))
    rows = rows_of(tmp_path)
    assert {(r.model, r.settings.get("data.test_split")) for r in rows} == {
        ("differsqueezenet", "search"),
        ("knn", "final"),
    }
    fake_run(tmp_path / "c" / "0", 0, 0.9, [[192, 0.9]])  # one split per category: nothing to name
    assert rows_of(tmp_path / "c")[0].settings == {}
