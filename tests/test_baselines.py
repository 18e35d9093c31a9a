"""The same-feature baselines (global kNN on the flow's features, PatchCore-style patch bank):
the models, and a whole run of each through dsn-train, dsn-eval and dsn-predict (their memory
bank: tests/test_memory_bank.py)."""

import json
import warnings

import pytest
import torch
from conftest import DEBUG, compose, preset

from dsn.data.dataset import MVTecDataset
from dsn.evaluate import evaluate
from dsn.lit.checkpoints import load_module
from dsn.model import Detector
from dsn.model.memory_bank import subsample
from dsn.predict import predict
from dsn.results.metrics import pixel_auroc
from dsn.train import train


def run(out, root, *extra):
    cfg = compose("train", DEBUG + [f"data.root={root}", *extra], out)
    return train(cfg)


# ---- the models ----------------------------------------------------------------------------


def test_knn_scores_its_own_training_views_zero_and_others_higher():
    model = Detector.from_hparams(preset("knn", weights="none", chunk=4)).eval()
    imgs = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    angles = torch.tensor([[0.0, 90.0]]).expand(4, 2)
    feats = model.embed(imgs, angles)
    assert feats.shape == (4, 2, 384)  # the flow's input width: 128 channels x 3 scales
    model.head.fit(model.head.rows(feats[:3]))
    scores = model.score(imgs, angles)
    assert scores[:3].max() < 1e-3 * scores[3]  # a stored view is its own nearest neighbour
    heat = model.anomaly_map(imgs[3], n_rotations=2)  # gradient map through the distance
    assert heat.shape == (64, 64) and float(heat.min()) >= 0 and float(heat.max()) > 0


def test_patch_model_finds_the_pasted_defect():
    model = Detector.from_hparams(preset("patchcore", weights="none", grid=16, bank_size=None)).eval()
    g = torch.Generator().manual_seed(0)
    base = torch.full((3, 128, 128), 120, dtype=torch.uint8)
    good = torch.stack([(base.int() + torch.randint(-10, 10, base.shape, generator=g)).clamp(0, 255) for _ in range(6)])
    good = good.to(torch.uint8)
    model.head.fit(model.head.rows(model.embed(good, torch.zeros(6, 1))))
    bad = good[0].clone()
    bad[:, 80:104, 24:48] = torch.randint(0, 256, (3, 24, 24), generator=g, dtype=torch.uint8)
    scores = model.score(torch.stack([good[0], bad]), torch.zeros(2, 1))
    assert scores[1] > 2 * scores[0]
    heat = model.anomaly_map(bad, n_rotations=1)
    row, col = divmod(int(heat.argmax()), 128)
    assert 72 <= row < 112 and 16 <= col < 56, (row, col)
    # raw patch distances, one scale for all images: the good image's map stays below the defect
    # (pooled pixel AUROC and AUPRO depend on it; per-image scaling would put both maxima at 1)
    assert model.anomaly_map(good[0], n_rotations=1).max() < 0.5 * heat.max()


# ---- whole runs ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["knn", "patchcore", "patchcore_lite0"])
def test_baseline_trains_evaluates_and_predicts(tmp_path, toy_root, name):
    extra = [f"model={name}"] + (["model.features.grid=4"] if name.startswith("patchcore") else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = run(tmp_path, toy_root, *extra)
    assert not [w for w in caught if "model.head" in str(w.message)]  # debug=default fits every head
    assert (metrics["detector"], metrics["features"]) == ("knn", "pooled" if name == "knn" else "patches")
    assert metrics["backbone"] == ("efficientnet_lite0" if name == "patchcore_lite0" else "squeezenet1_1")
    assert metrics["epochs"] == 1
    assert metrics["flow_params"] == 0 and metrics["bank_rows"] > 0 and 0.0 <= metrics["auroc"] <= 1.0
    assert 0.0 <= metrics["pixel_auroc"] <= 1.0 and (tmp_path / "figures" / "gradient_maps.png").is_file()
    assert 0.0 <= metrics["pixel_aupro"] <= 1.0
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    module = load_module(ckpt)
    assert type(module).__name__ == "FittedLightning"
    assert module.model.head.memory.rows.shape[0] == metrics["bank_rows"] and module.trained_epochs == 1

    ev = evaluate(
        compose(
            "eval",
            [f"data.root={toy_root}", "data.category=toy", f"ckpt_path={ckpt}", "trainer.accelerator=cpu"],
            tmp_path / "eval",
        )
    )
    assert ev["scores"] == pytest.approx(metrics["scores"], rel=1e-5)

    test_dir = toy_root / "toy" / "test"
    rows = predict(str(ckpt), [str(test_dir)], str(tmp_path / "p.csv"), heatmaps=str(tmp_path / "maps"))
    assert [r["verdict"] != "error" for r in rows] == [True] * 6
    by_path = {r["path"]: r["score"] for r in rows}
    files = sorted(str(p) for p in test_dir.rglob("*.png"))
    stored = json.loads((tmp_path / "metrics.json").read_text())["scores"]
    assert sorted(by_path) == files and sorted(by_path.values()) == pytest.approx(sorted(stored), rel=1e-4)
    assert len(list((tmp_path / "maps").glob("*.png"))) == 6

    again = run(tmp_path, toy_root, *extra)  # a finished fit is not passed again on a rerun
    assert again["epochs"] == 1 and again["scores"] == pytest.approx(metrics["scores"], rel=1e-6)


@pytest.mark.parametrize("cached", [True, False])
def test_a_patch_run_banks_the_seeded_subset_of_all_its_training_patches(tmp_path, toy_root, cached):
    """The run streams its pass (keeping only the bank's rows); the bank is still exactly the
    seeded random subset of every training patch, in the order the pass saw the images."""
    from dsn.data.dataset import MVTecDataset
    from dsn.data.sampler import EpochShuffleSampler

    extra = ["model=patchcore", "model.features.grid=4", "model.head.bank_size=20", f"feature_cache.train={cached}"]
    metrics = run(tmp_path, toy_root, *extra)
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    images = MVTecDataset(toy_root, "toy", "train", image_size=32, cache_dir=None).images
    order = list(EpochShuffleSampler(len(images), seed=metrics["seed"]))
    with torch.no_grad():
        every = module.model.head.rows(module.model.embed(images[order], torch.zeros(len(images), 1)))
    assert metrics["bank_rows"] == 20 and every.shape[0] == 16 * len(images)
    assert torch.allclose(module.model.head.memory.rows, subsample(every, 20, "random", metrics["seed"]), atol=1e-5)


def test_knn_reuses_the_flows_cached_views(tmp_path, toy_root):
    cache = tmp_path / "shared_cache"
    run(tmp_path / "flow", toy_root, f"feature_cache.dir={cache}")
    before = {p.name for p in cache.rglob("*-features-*.pt")}
    run(tmp_path / "knn", toy_root, "model=knn", f"feature_cache.dir={cache}")
    assert before and {p.name for p in cache.rglob("*-features-*.pt")} == before


def test_bad_baseline_settings_stop_before_any_image_is_read(tmp_path, toy_root):
    from dsn.config.config_checks import ConfigError

    with pytest.raises(ConfigError, match=r"model.head.k must be at least 1, got 0"):
        run(tmp_path / "a", toy_root, "model=knn", "model.head.k=0")
    with pytest.raises(ConfigError, match=r"model.features.taps must be a list of widths .* got \[100\]"):
        run(tmp_path / "b", toy_root, "model=patchcore", "model.features.taps=[100]")
    with pytest.raises(ConfigError, match=r"model.head.subsample must be one of"):
        run(tmp_path / "c", toy_root, "model=patchcore", "model.head.subsample=kmeans")


def test_a_sweep_searches_the_baseline_too(tmp_path):
    import subprocess

    import optuna
    from conftest import REPO, make_tree, sweep_cmd

    root = make_tree(tmp_path / "data")
    cmd = [a for a in sweep_cmd(root, tmp_path / "logs") if a not in ("hparams_search=debug", "data.image_size=32")]
    cmd += ["hparams_search=knn_taps", "data.image_size=128", "hydra.sweeper.n_trials=3"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    study = optuna.load_study(
        study_name="knn_taps_knn_toy", storage=f"sqlite:///{tmp_path}/logs/debug/multiruns/knn_taps_knn_toy.db"
    )
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 3 and all(0.0 <= t.value <= 1.0 for t in done)
    assert {"model.features.n_features", "model.features.n_scales", "model.head.k", "model.head.metric"} == set(
        done[0].params
    )


def test_the_maps_reuse_the_tests_patch_distances_instead_of_searching_the_bank_again(tmp_path, toy_root, monkeypatch):
    """A large bank's search is most of a patch-bank run (Magnetic Tile, 150k patches: 6.5 min of
    the test, and as long again when the maps searched once more); the test keeps each input's
    patch distances and the maps and pixel metrics are made of them."""
    import dsn.model.memory_bank as mb

    searched, search = [], mb.nearest_distances

    def counting(queries, *args, **kwargs):
        searched.append(queries.shape[0])
        return search(queries, *args, **kwargs)

    monkeypatch.setattr(mb, "nearest_distances", counting)
    metrics = run(tmp_path, toy_root, "model=patchcore", "model.features.grid=4")
    assert metrics["pixel_auroc"] is not None and len(metrics["scores"]) == 6  # maps of every test image
    # 6 test images x 4 views (the debug preset's) x 16 patches, for the curve's point and the test;
    # the maps of every image searched nothing more
    assert searched == [6 * 4 * 16] * 2
    module, test = (
        load_module(tmp_path / "checkpoints" / "last.ckpt"),
        MVTecDataset(toy_root, "toy", "test", image_size=32),
    )
    with torch.no_grad():  # the maps are those of a fresh search
        fresh = torch.stack([module.model.anomaly_map(image, 1) for image in test.images])
    assert pixel_auroc(fresh, test.masks) == pytest.approx(metrics["pixel_auroc"], abs=1e-6)
