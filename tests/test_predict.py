"""dsn-predict: scores, normalised scores and verdicts for new images, errors per file, heat maps."""

import csv

import pytest
from conftest import DEBUG, compose, make_tree

from dsn.predict import main as predict_main
from dsn.train import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    root = make_tree(tmp / "d", n_train=10)
    cfg = compose("train", DEBUG + [f"data.root={root}", "data.val_fraction=0.2"], tmp / "run")
    metrics = train(cfg)
    return tmp, root, metrics


def test_predict_a_folder_with_a_broken_file(trained, tmp_path):
    tmp, root, metrics = trained
    folder = root / "toy" / "test"
    (folder / "scratch" / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "pred.csv"
    with pytest.raises(SystemExit) as exit_info:  # exit status 2: some files could not be read
        predict_main(
            [
                str(tmp / "run" / "checkpoints" / "last.ckpt"),
                str(folder),
                "--out",
                str(out),
                "--heatmaps",
                str(tmp_path / "maps"),
            ]
        )
    assert exit_info.value.code == 2
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 7
    broken = [r for r in rows if r["path"].endswith("broken.png")]
    assert broken[0]["verdict"] == "error" and "broken.png" in broken[0]["error"]
    scored = [r for r in rows if r["verdict"] != "error"]
    thr = metrics["threshold"]
    for r in scored:
        assert r["verdict"] == ("defective" if float(r["score"]) >= thr else "good")
        assert (float(r["normalized_score"]) >= 0.5) == (r["verdict"] == "defective")
    assert len(list((tmp_path / "maps").glob("*_heatmap.png"))) == 6
    (folder / "scratch" / "broken.png").unlink()


def test_predict_missing_input_gets_an_error_row(trained, tmp_path):
    tmp, _, _ = trained
    out = tmp_path / "pred.csv"
    with pytest.raises(SystemExit) as exit_info:
        predict_main([str(tmp / "run" / "checkpoints" / "last.ckpt"), "/nonexistent/*.png", "--out", str(out)])
    assert exit_info.value.code == 2
    (row,) = csv.DictReader(open(out))
    assert row["verdict"] == "error" and "no file, folder or glob match for '/nonexistent/*.png'" in row["error"]
