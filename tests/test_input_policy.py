"""data.input_policy: how images that are not square become the detector's square inputs
(resize: squashed; pad: aspect kept on a black canvas; tile: aspect kept, overlapping tiles, an
image scoring as its worst tile), and how their maps go back onto the image."""

import numpy as np
import pytest
import torch
from conftest import DEBUG, compose, make_tree
from PIL import Image

from dsn.config.config_checks import ConfigError
from dsn.data.dataset import MVTecDataset
from dsn.data.input_policy import WHOLE, boxes, max_per_image, render, stitch
from dsn.data.view_features import CachedViews
from dsn.lit.checkpoints import load_module
from dsn.results.run_figures import image_map, upright_rows
from dsn.train import train


def test_tiles_cover_a_long_image_with_the_asked_overlap():
    tiles = boxes("tile", 300, 100, 100, 0.25)  # short side 100 = the input size: 300 px to cover
    assert len(tiles) == 4  # ceil((300 - 100) / 75) + 1
    lefts = [b[1] for b in tiles]
    assert lefts[0] == 0.0 and tiles[-1][3] == pytest.approx(1.0)
    assert all(b[0] == 0.0 and b[2] == 1.0 for b in tiles)  # the whole height in every tile
    assert all(b[3] - b[1] == pytest.approx(1 / 3) for b in tiles)  # 100 of 300 px each
    step = np.diff(lefts) * 300
    assert (step <= 75 + 1e-6).all()  # neighbours overlap by at least a quarter of a tile
    tall = boxes("tile", 100, 300, 100, 0.25)
    assert [(b[1], b[3]) for b in tall] == [(0.0, 1.0)] * 4  # tall images are tiled down the height
    assert boxes("tile", 100, 103, 100, 0.25) == [WHOLE]  # barely not square: one input
    assert boxes("resize", 300, 100, 100, 0.25) == [WHOLE]


def test_pad_keeps_the_aspect_ratio_on_a_black_canvas():
    img = Image.fromarray(np.full((50, 100, 3), 200, np.uint8))  # 100 wide, 50 high
    (box,) = boxes("pad", 100, 50, 64, 0.25)
    assert box == pytest.approx((-0.5, 0.0, 1.5, 1.0))
    canvas = render(img, box, 64)
    assert canvas.shape == (3, 64, 64)
    assert int(canvas[:, :14].max()) == 0 and int(canvas[:, 50:].max()) == 0  # black above and below
    assert int(canvas[:, 20:44].min()) == 200  # the image, unstretched, in the middle


def test_a_tiled_images_map_has_the_original_images_size_and_averages_overlaps():
    where = boxes("tile", 250, 100, 100, 0.5)
    maps = torch.stack([torch.full((100, 100), float(k)) for k in range(len(where))])
    out = stitch(maps, where, 100, 250)
    assert out.shape == (100, 250)
    assert float(out[:, 0].mean()) == 0.0 and float(out[:, -1].mean()) == len(where) - 1
    middle = float(out[50, 125])  # covered by more than one tile: their mean
    assert 0.0 < middle < len(where) - 1
    padded = stitch(torch.ones(1, 64, 64), boxes("pad", 100, 50, 64, 0.25), 50, 100)
    assert padded.shape == (50, 100) and torch.allclose(padded, torch.ones(50, 100))


def test_an_image_scores_as_its_worst_input():
    scores = torch.tensor([0.1, 0.7, 0.3, 0.2, 0.9])
    assert max_per_image(scores, torch.tensor([0, 0, 0, 1, 2])).tolist() == pytest.approx([0.7, 0.2, 0.9])


def test_a_tiled_dataset_serves_tiles_and_keeps_labels_masks_and_splits_per_image(tmp_path):
    root = make_tree(tmp_path / "data", size=(96, 32))  # 3:1 images
    ds = MVTecDataset(root, "toy", "test", image_size=32, input_policy="tile", tile_overlap=0.25)
    per_image = len(boxes("tile", 96, 32, 32, 0.25))
    assert per_image == 4 and len(ds) == ds.n_images * per_image == 24
    assert ds.pictures.shape == (6, 3, 32, 32) and ds.masks.shape == (6, 1, 32, 32)
    items = [ds[i] for i in range(len(ds))]
    assert [int(it["image_index"]) for it in items] == [i for i in range(6) for _ in range(per_image)]
    assert all(int(it["label"]) == int(ds.labels[int(it["image_index"])]) for it in items)
    part = ds.test_part("search", 0.5)
    assert len(part) == part.n_images * per_image and part.image_of.tolist() == sorted(part.image_of.tolist())
    assert torch.equal(part.images[:per_image], ds.images[ds.inputs_of(ds.samples.index(part.samples[0]))])


def test_bad_policy_settings_stop_before_any_image_is_read(tmp_path):
    from dsn.config.config_checks import ConfigError

    for override, message in (
        ("data.input_policy=crop", r"data.input_policy must be one of \['pad', 'resize', 'tile'\], got 'crop'"),
        ("data.tile_overlap=1.0", r"data.tile_overlap must be a number in \[0.0, 1.0\)"),
    ):
        cfg = compose("train", [*DEBUG, f"data.root={tmp_path / 'none'}", override], tmp_path)
        with pytest.raises(ConfigError, match=message):
            train(cfg)


@pytest.mark.parametrize("model", ["differsqueezenet", "patchcore"])
def test_a_tiled_run_scores_each_image_as_its_worst_tile_and_maps_it_whole(tmp_path, model):
    root = make_tree(tmp_path / "data", size=(96, 32))
    cfg = compose("train", [*DEBUG, f"data.root={root}", f"model={model}", "data.input_policy=tile"], tmp_path)
    metrics = train(cfg)
    assert len(metrics["scores"]) == 6 and metrics["pixel_auroc"] is not None  # per image, maps stitched
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    assert module.inputs == {"input_policy": "tile", "tile_overlap": 0.25}
    test = MVTecDataset(root, "toy", "test", image_size=32, input_policy="tile", tile_overlap=0.25)
    with torch.no_grad():
        tile_scores = module.model.score(test.images, module.test_angles(torch.arange(len(test))))
    expected = max_per_image(tile_scores, test.image_of)
    assert expected.tolist() == pytest.approx(metrics["scores"], rel=1e-4, abs=1e-6)
    assert image_map(module.model, test, 0, 2).shape == (32, 32)  # on the masks' square frame
    with torch.no_grad():  # a patch grid's maps read from its upright views' row scores: the same maps
        test = CachedViews(test, module.model.embed(test.images, torch.zeros(len(test), 1)))
    upright = upright_rows(module, test)
    assert (upright is None) == (model == "differsqueezenet")
    if upright is not None:
        torch.testing.assert_close(image_map(module.model, test, 1, 2, upright), image_map(module.model, test, 1, 2))
    from dsn.export import export
    from dsn.predict import predict

    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    rows = predict(str(ckpt), [str(root / "toy" / "test")], str(tmp_path / "p.csv"), heatmaps=str(tmp_path / "maps"))
    by_path = {str(s.path): score for s, score in zip(test.samples, metrics["scores"])}
    assert {r["path"]: r["score"] for r in rows} == pytest.approx(by_path, rel=1e-4, abs=1e-6)  # tiles, worst one
    assert len(list((tmp_path / "maps").glob("*.png"))) == 6
    with pytest.raises(ValueError, match=r"trained with data.input_policy=tile; dsn-export scores squashed"):
        export(str(ckpt), str(tmp_path / "m.onnx"))
    ev = compose(
        "eval",
        [f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}", f"data.root={root}", "data.category=toy"],
        tmp_path / "ev",
    )
    from dsn.run.evaluation import evaluate

    assert evaluate(ev)["scores"] == pytest.approx(metrics["scores"], rel=1e-4, abs=1e-6)  # the checkpoint's policy


def test_pad_runs_end_to_end_and_differs_from_resize(tmp_path):
    root = make_tree(tmp_path / "data", size=(96, 32))
    base = [*DEBUG, f"data.root={root}", "model=patchcore"]
    padded = train(compose("train", [*base, "data.input_policy=pad"], tmp_path / "pad"))
    squashed = train(compose("train", base, tmp_path / "resize"))
    assert len(padded["scores"]) == len(squashed["scores"]) == 6
    assert padded["scores"] != pytest.approx(squashed["scores"])
    ev = [f"ckpt_path={tmp_path / 'resize' / 'checkpoints' / 'last.ckpt'}", f"data.root={root}", "data.category=toy"]
    from dsn.run.evaluation import evaluate

    with pytest.raises(ConfigError, match=r"score_quantile=0.5: checkpoint .* has a 'knn' head, .* leave it unset"):
        evaluate(compose("eval", [*ev, "score_quantile=0.5"], tmp_path / "q"))
    with pytest.raises(ConfigError, match=r"score_quantile must be a number in \(0.0, 1.0\], got 0"):
        evaluate(compose("eval", [*ev, "score_quantile=0"], tmp_path / "q0"))
