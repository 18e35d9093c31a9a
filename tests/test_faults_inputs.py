"""Nothing silently wrong, nothing lost, cases 5-7: oversized and unusable inputs, heat maps, the cache.

One test per case of the fault list (numbers in the names; the list and the other cases are in
test_faults_runs.py), each failing on the code before the fix."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from pathlib import Path

import pytest
import torch
from conftest import make_tree, write_image
from fault_helpers import cli, huge_png, train_cfg
from hypothesis import given, settings
from hypothesis import strategies as st

# ---- oversized images ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from dsn.train import train

    tmp = tmp_path_factory.mktemp("faults")
    root = make_tree(tmp / "data")
    train(train_cfg(tmp, root, "data.val_fraction=0.2"))
    return tmp / "run" / "checkpoints" / "last.ckpt"


def test_an_oversized_image_is_one_error_row_and_training_names_it(tmp_path, checkpoint, toy_root):
    from dsn.predict import predict
    from dsn.train import train
    from dsn.utils.image_files import ImageError

    good = write_image(tmp_path / "in" / "good.png", __import__("numpy").random.default_rng(0))
    bomb = huge_png(tmp_path / "in" / "bomb.png")
    rows = predict(str(checkpoint), [str(bomb), str(good)], str(tmp_path / "p.csv"))
    assert [r["path"] for r in rows] == [str(bomb), str(good)]
    assert rows[0]["verdict"] == "error" and "20000x20000" in rows[0]["error"] and "max-pixels" in rows[0]["error"]
    assert rows[1]["verdict"] in ("good", "defective")

    huge_png(toy_root / "toy" / "train" / "good" / "zz_bomb.png")
    with pytest.raises(ImageError, match=r"zz_bomb.png is 20000x20000 px .*data.max_pixels"):
        train(train_cfg(tmp_path, toy_root))


def test_edge_runtime_scores_every_file_it_can(tmp_path, checkpoint):
    import numpy as np

    from dsn.export import export

    export(str(checkpoint), str(tmp_path / "m.onnx"), views=2)
    good = write_image(tmp_path / "good.png", np.random.default_rng(1))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = cli("dsn.deploy.edge", str(tmp_path / "m.onnx"), str(huge_png(tmp_path / "bomb.png")), str(good), str(text))
    assert out.returncode == 2
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["path"] for r in rows] == [str(tmp_path / "bomb.png"), str(good), str(text)]
    assert rows[0]["verdict"] == rows[2]["verdict"] == "error" and "max-pixels" in rows[0]["error"]
    assert rows[1]["verdict"] in ("good", "defective") and float(rows[1]["score"]) >= 0
    usage = cli("dsn.deploy.edge")
    assert usage.returncode == 2 and "usage:" in usage.stderr and "IndexError" not in usage.stderr


def test_edge_runtime_and_dsn_predict_give_the_same_rows_on_a_folder(tmp_path, checkpoint):
    """Files, folders and globs, the same CSV columns, the same rows in the same order (scores to
    ONNX's float32 precision), the same verdicts and normalised scores from the stored threshold."""
    import numpy as np

    from dsn.export import export
    from dsn.predict import predict

    export(str(checkpoint), str(tmp_path / "m.onnx"), views=2)
    folder = tmp_path / "in"
    for i in range(3):
        write_image(folder / "a" / f"{i}.png", np.random.default_rng(i))
    write_image(folder / "b" / "x.png", np.random.default_rng(9), bright=80)
    (folder / "b" / "notes.png").write_text("not an image")
    inputs = [str(folder), str(folder / "a" / "*.png"), str(tmp_path / "nothing_*.png")]
    expected = predict(str(checkpoint), inputs, str(tmp_path / "p.csv"), views=2)
    out = cli("dsn.deploy.edge", str(tmp_path / "m.onnx"), *inputs)
    assert out.returncode == 2 and out.stdout.splitlines()[0] == "path,score,normalized_score,verdict,error"
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["path"], r["verdict"]) for r in rows] == [(e["path"], e["verdict"]) for e in expected]
    assert len(rows) == 9 and sum(r["verdict"] == "error" for r in rows) == 2  # notes.png, the empty glob
    for r, e in zip(rows, expected):
        if r["verdict"] != "error":
            assert float(r["score"]) == pytest.approx(e["score"], rel=1e-4, abs=1e-5)
            assert float(r["normalized_score"]) == pytest.approx(e["normalized_score"], abs=2e-4)


# ---- every input a row, in order; unique heat maps --------------------------------------------


def test_same_named_images_get_their_own_heat_maps_and_bad_inputs_their_rows(tmp_path, checkpoint):
    import numpy as np

    from dsn.predict import predict

    rng = np.random.default_rng(2)
    same = [write_image(tmp_path / d / "x.png", rng) for d in ("a", "b", "c")]
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    link = tmp_path / "gone.png"
    link.symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "empty").mkdir()
    inputs = [str(same[2]), str(notes), str(link), str(tmp_path / "empty"), str(same[0]), str(same[1])]
    rows = predict(str(checkpoint), inputs, str(tmp_path / "p.csv"), heatmaps=str(tmp_path / "maps"))
    assert [r["path"] for r in rows] == inputs
    assert [r["verdict"] == "error" for r in rows] == [False, True, True, True, False, False]
    assert "not an image file" in rows[1]["error"] and "broken link" in rows[2]["error"]
    assert "holds no image files" in rows[3]["error"]
    assert len(list((tmp_path / "maps").glob("*.png"))) == 3


def make_input(kind: str, folder: Path, i: int) -> str:
    import numpy as np

    p = folder / f"{i}_{kind}.png"
    if kind == "good":
        write_image(p, np.random.default_rng(i))
    elif kind == "broken":
        p.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    elif kind == "text":
        p = p.with_suffix(".txt")
        p.write_text("not an image")
    elif kind == "link":
        p.symlink_to(folder / "nowhere.png")
    elif kind == "empty_dir":
        p = folder / f"{i}_empty"
        p.mkdir()
    return str(p)  # "missing": a path that does not exist


@settings(max_examples=10, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["good", "broken", "text", "link", "missing", "empty_dir"]), min_size=1, max_size=6)
)
def test_predict_gives_every_input_one_row_in_order(tmp_path_factory, checkpoint, kinds):
    import csv

    from dsn.predict import main as predict_main

    folder = tmp_path_factory.mktemp("mix")
    inputs = [make_input(kind, folder, i) for i, kind in enumerate(kinds)]
    out = folder / "p.csv"
    try:
        predict_main([str(checkpoint), *inputs, "--out", str(out)])
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    rows = list(csv.DictReader(open(out)))
    assert [r["path"] for r in rows] == inputs
    assert [r["verdict"] == "error" for r in rows] == [k != "good" for k in kinds]
    assert code == (2 if any(k != "good" for k in kinds) else 0)


# ---- the cache is only a speed-up -------------------------------------------------------------


def test_an_unwritable_cache_warns_and_the_run_goes_on(tmp_path, toy_root):
    from dsn.train import train

    blocker = tmp_path / "a_file"
    blocker.write_text("a file where the cache folder should be")  # root ignores chmod; this fails for all
    cache = blocker / "cache"
    with pytest.warns(UserWarning, match=f"cache folder {re.escape(str(cache))} cannot be written.*data.cache_dir"):
        dirs = [f"data.cache_dir={cache}", f"feature_cache.dir={cache}"]
        # every 0 s: saving the images done so far meets the unwritable folder too
        metrics = train(train_cfg(tmp_path, toy_root, *dirs, "feature_cache.save_every_s=0"))
    assert 0.0 <= metrics["auroc"] <= 1.0


def test_the_cache_is_capped_least_recently_used_first(tmp_path, toy_root):
    from dsn.cache import main as cache_main
    from dsn.train import train
    from dsn.utils.tensor_cache import evict, load_entry, store_entry

    cache = tmp_path / "cache"
    for i, age in enumerate((300, 100, 200)):  # entry 0 used longest ago, then 2, then 1
        store_entry(cache / f"e{i}.pt", torch.zeros(1000))
        os.utime(cache / f"e{i}.pt", (time.time() - age,) * 2)
    assert torch.equal(load_entry(cache / "e2.pt"), torch.zeros(1000))  # a hit makes e2 the most recent
    size = (cache / "e0.pt").stat().st_size
    assert [p.name for p in evict([cache], 2 * size)] == ["e0.pt"]
    assert sorted(p.name for p in cache.glob("*.pt")) == ["e1.pt", "e2.pt"]

    train(
        train_cfg(tmp_path, toy_root, f"data.cache_dir={cache}", f"feature_cache.dir={cache}", "feature_cache.max_gb=0")
    )  # a run trims its cache folders to the cap
    assert not list(cache.glob("*.pt"))
    store_entry(cache / "e3.pt", torch.zeros(10))
    cache_main(["--dir", str(cache), "--clear"])
    assert not list(cache.glob("*.pt"))


class _CountingEmbedder(torch.nn.Module):
    """Stands in for a detector in ``embed_stack``: the feature of an image's view is its first
    pixel plus the angle, and it counts the images it embeds."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Identity()
        self.embedded = 0

    def embed(self, imgs, angles, jitter):
        self.embedded += len(imgs)
        return (imgs[:, :1, 0, 0].float() + angles).unsqueeze(-1)


@pytest.mark.parametrize("kept", ["damaged", "other_views", "first_3"])
def test_a_partial_bank_is_taken_only_when_it_fits(tmp_path, kept):
    """The rows an interrupted embedding kept (``<entry>.partial.pt``) are taken as they are only
    when they are this stack's first images; damaged rows are deleted and rows of another stack
    (another view count) are ignored: either way every image is embedded anew, nothing fails."""
    from dsn.model.stack_features import embed_stack
    from dsn.utils.tensor_cache import PartialRows, partial_file

    images = torch.arange(8, dtype=torch.uint8).view(8, 1, 1, 1).expand(8, 3, 2, 2).contiguous()
    angles = torch.arange(16, dtype=torch.float32).view(8, 2)
    exact = images[:, 0, 0, 0].float().unsqueeze(1).add(angles).unsqueeze(-1)
    entry = tmp_path / "train-features-x.pt"
    stored = {"damaged": None, "other_views": torch.zeros(3, 5, 1), "first_3": exact[:3] + 1000.0}[kept]
    if stored is None:
        partial_file(entry).write_bytes(b"damaged")
    else:
        torch.save(stored, partial_file(entry))

    model = _CountingEmbedder()
    progress = PartialRows(entry, every_s=float("inf"))
    out = embed_stack(model, images, angles, device="cpu", batch_images=2, jitter=None, progress=progress, desc="bank")

    if kept == "first_3":
        assert torch.equal(out[:3], exact[:3] + 1000.0) and torch.equal(out[3:], exact[3:])
        assert model.embedded == 5
    else:
        assert torch.equal(out, exact) and model.embedded == 8
    assert partial_file(entry).exists() == (kept != "damaged")  # a damaged one is deleted, not trusted
