"""dsn-size: the presets asked for are measured, each in its own process, with the bank a
baseline would hold after fitting the stated training set; an unknown preset stops before any
measuring, naming itself and the presets there are."""

import json

import pytest

from dsn.size import main


def test_the_presets_asked_for_are_measured_with_their_fitted_banks_size(tmp_path, squeezenet_weights):
    main(
        [
            *("--presets", "knn", "patchcore"),
            *("--weights-dir", str(squeezenet_weights.parent), "--image-size", "64", "--views", "2"),
            *("--repeats", "1", "--train-images", "3", "--bank-views", "2", "--out", str(tmp_path)),
        ]
    )
    rows = json.loads((tmp_path / "size.json").read_text())
    assert [r["preset"] for r in rows] == ["knn", "patchcore"]
    knn, patch = rows
    assert knn["bank_rows"] == 3 * 2  # one row per training view (bank views x images)
    assert patch["bank_rows"] == 3 * 28**2  # no rotations: each image once, one row per patch of its grid
    assert knn["flow_params"] == patch["flow_params"] == 0
    assert all(r["test_views"] == 2 and r["latency_ms_per_image"] > 0 for r in rows)
    assert knn["model_file_mb"] < patch["model_file_mb"]  # 6 x 384 floats against 2,352 x 640
    assert "| knn (squeezenet1_1) |" in (tmp_path / "size.md").read_text()


def test_an_unknown_preset_is_refused_before_anything_is_measured(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--presets", "knn", "squeezenet_ful_1scale", "--out", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "squeezenet_ful_1scale" in err and "squeezenet_full_1scale" in err
    assert not (tmp_path / "size.json").exists()
