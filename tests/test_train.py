"""Training and evaluation in-process on a tiny tree: metrics, checkpoints, reload, resume."""

import json

import pytest
import torch
from conftest import DEBUG, compose
from wandb_files import read_run

from dsn.evaluate import evaluate
from dsn.lit.checkpoints import load_module
from dsn.train import train


def run(tmp_path, toy_root, *extra):
    cfg = compose("train", DEBUG + [f"data.root={toy_root}", *extra], tmp_path)
    return cfg, train(cfg)


def test_debug_training_writes_metrics_and_checkpoint(tmp_path, toy_root):
    cfg, metrics = run(tmp_path, toy_root)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["auroc"] == metrics["auroc"] and 0.0 <= metrics["auroc"] <= 1.0
    assert metrics["epochs"] == 2 and metrics["category"] == "toy" and metrics["seed"] == 0
    assert (metrics["train_path"], on_disk["bank_views"]) == ("cached", 4)  # the debug preset's training bank
    assert metrics["n_test_good"] == 3 and metrics["n_test_defective"] == 3
    assert on_disk["auroc_by_defect"] == {"scratch": metrics["auroc"]}  # the toy tree's one defect type
    assert len(metrics["curve_test_auroc"]) == 2
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    (csv_file,) = (tmp_path / "csv").glob("*/metrics.csv")  # every logger gets the test metrics, pixel ones too
    header = csv_file.read_text().splitlines()[0].split(",")
    assert {"test/auroc/toy", "test/pixel_auroc/toy", "test/pixel_aupro/toy", "objective/auroc"} <= set(header)
    assert {"roc.png", "score_histogram.png", "gradient_maps.png"} <= {p.name for p in (tmp_path / "figures").iterdir()}
    assert 0.0 <= metrics["pixel_auroc"] <= 1.0  # debug preset maps every test image
    assert 0.0 <= metrics["pixel_aupro"] <= 1.0 and on_disk["pixel_aupro"] == metrics["pixel_aupro"]
    stages = metrics["peak_rss_mb_by_stage"]  # high-water marks, in the order the run reached them
    assert list(stages) == ["data+model", "feature caches", "fit", "test", "figures"]
    assert list(stages.values()) == sorted(stages.values()) and stages["figures"] == on_disk["peak_rss_mb"]
    seconds = metrics["wall_time_s_by_stage"]  # each stage's own time, in order: they add up to the run's
    assert list(seconds) == list(stages) and min(seconds.values()) >= 0.0
    assert sum(seconds.values()) == pytest.approx(on_disk["wall_time_s"], abs=0.5)


def test_checkpoint_reloads_without_hydra_and_scores_the_same(tmp_path, toy_root):
    cfg, metrics = run(tmp_path, toy_root)
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    assert module.hparams.head["n_blocks"] == 2 and module.trained_epochs == 2
    ev_cfg = compose(
        "eval",
        [
            f"data.root={toy_root}",
            "data.category=toy",
            "data.image_size=32",
            f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}",
            "trainer.accelerator=cpu",
            "figures.gradient_maps=2",
            "figures.map_rotations=2",
            "figures.pixel_auroc=true",
        ],
        tmp_path / "eval",
    )
    ev = evaluate(ev_cfg)
    assert ev["auroc"] == pytest.approx(metrics["auroc"])
    assert ev["scores"] == pytest.approx(metrics["scores"], rel=1e-5)
    # dsn-eval redraws a run's figures and pixel AUROC from the checkpoint alone
    assert ev["pixel_auroc"] == pytest.approx(metrics["pixel_auroc"], abs=1e-6)
    assert ev["pixel_aupro"] == pytest.approx(metrics["pixel_aupro"], abs=1e-6)
    assert ev["map_rotations"] == 2  # gradient maps over 2 rotations (a patch grid's map has none)
    assert {"roc.png", "score_histogram.png", "gradient_maps.png"} <= {
        p.name for p in (tmp_path / "eval" / "figures").iterdir()
    }


def test_an_evaluation_measures_what_its_run_measured_unless_told_otherwise(tmp_path, toy_root):
    """A dsn-eval of a checkpoint has the run's identity (the backbone's digest, the run's passes
    and held-out share, not the eval command's defaults), but for its precision; on the search half
    it differs in the test split alone. dsn-report joins the first to its run (it adds to it) and
    keeps the second as a row of its own. Before, an eval's identity said random weights and 192
    passes, and the report folded every evaluation of a checkpoint into one record."""
    import torchvision

    from dsn.report import build

    weights = tmp_path / "squeezenet.pth"
    torch.save(torchvision.models.squeezenet1_1().state_dict(), weights)
    _, metrics = run(tmp_path / "run", toy_root, f"weights={weights}", "data.val_fraction=0.0")
    given = [
        f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}",
        f"data.root={toy_root}",
        "data.category=toy",
    ]
    same = evaluate(compose("eval", given, tmp_path / "same"))
    search = evaluate(compose("eval", [*given, "data.test_split=search"], tmp_path / "search"))

    def differ(a: dict, b: dict) -> set:
        return {k for k in set(a) | set(b) if a.get(k) != b.get(k)} - {"trainer.precision"}

    assert metrics["identity"]["model.features.weights"].startswith("sha256:")
    assert differ(metrics["identity"], same["identity"]) == set()
    assert differ(metrics["identity"], search["identity"]) == {"data.test_split", "data.search_fraction"}
    rows = build([str(tmp_path / d) for d in ("run", "same", "search")])[0]
    assert sorted((r.setting.get("data.test_split"), len(r.runs)) for r in rows) == [("all", 1), ("search", 1)]


def test_evaluation_counts_every_pass_when_checkpoints_follow_the_meta_epochs(tmp_path, toy_root):
    # the paper presets validate and save every 8th pass; Lightning then writes the last checkpoint
    # before its epoch counter moves, and a naive reading says one pass fewer than were trained
    sched = ["trainer.max_epochs=4", "trainer.check_val_every_n_epoch=2", "callbacks.model_checkpoint.every_n_epochs=2"]
    _, metrics = run(tmp_path, toy_root, *sched)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert metrics["epochs"] == 4 and load_module(ckpt).trained_epochs == 4
    ev_cfg = compose(
        "eval",
        [
            f"data.root={toy_root}",
            "data.category=toy",
            "data.image_size=32",
            f"ckpt_path={ckpt}",
            "trainer.accelerator=cpu",
            "figures.gradient_maps=0",
        ],
        tmp_path / "eval",
    )
    assert evaluate(ev_cfg)["epochs"] == 4
    _, longer = run(tmp_path, toy_root, *sched[1:], "trainer.max_epochs=6")  # resumed: says where it took over
    assert (longer["epochs"], longer["fit_from_epoch"]) == (6, 4)


def test_plain_path_trains_too(tmp_path, toy_root):
    _, metrics = run(tmp_path, toy_root, "feature_cache.train=false")
    assert metrics["train_path"] == "plain" and metrics["epochs"] == 2 and metrics["bank_views"] is None


def test_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, toy_root):
    _, full = run(tmp_path / "full", toy_root, "trainer.max_epochs=3")
    run(tmp_path / "cut", toy_root, "trainer.max_epochs=1")  # "interrupted" after epoch 1
    _, resumed = run(tmp_path / "cut", toy_root, "trainer.max_epochs=3")  # picks up last.ckpt
    assert resumed["epochs"] == 3 and (full["fit_from_epoch"], resumed["fit_from_epoch"]) == (0, 1)
    assert resumed["scores"] == pytest.approx(full["scores"], rel=1e-5)
    # the resumed run's checkpoint records the run it became (3 passes), not the one it resumed
    assert load_module(tmp_path / "cut" / "checkpoints" / "last.ckpt").trained_under["trainer"]["max_epochs"] == 3


def test_nan_loss_stops_with_a_message(tmp_path, toy_root, monkeypatch):
    import dsn.model.heads.flow as flow_head

    monkeypatch.setattr(flow_head, "nll_loss", lambda z, logdet: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(FloatingPointError, match=r"the head diverged.*lower model.optimizer.lr \(now .*\)"):
        run(tmp_path, toy_root)


def test_test_set_without_defects_reports_no_auroc(tmp_path):
    from conftest import make_tree

    root = make_tree(tmp_path / "d", n_bad=0)
    cfg = compose("train", DEBUG + [f"data.root={root}"], tmp_path / "out")
    with pytest.warns(UserWarning, match="AUROC is undefined: the test set has no defective images"):  # said, too
        metrics = train(cfg)
    assert metrics["auroc"] is None and "no defective" in metrics["auroc_note"]


def test_threshold_from_held_out_good_images_is_stored_in_the_checkpoint(tmp_path, toy_root):
    from conftest import make_tree

    root = make_tree(tmp_path / "d", n_train=10)
    cfg = compose(
        "train", DEBUG + [f"data.root={root}", "data.val_fraction=0.2", "threshold.target_fpr=0.0"], tmp_path / "out"
    )
    metrics = train(cfg)
    assert metrics["n_val_good"] == 2 and metrics["threshold"] > 0
    module = load_module(tmp_path / "out" / "checkpoints" / "last.ckpt")
    assert module.stored_decision.threshold == pytest.approx(metrics["threshold"])
    assert 0.0 <= metrics["test_fpr_at_threshold"] <= 1.0 and "f1_optimal_on_test" in metrics


def test_wandb_logs_offline_by_default_without_network(tmp_path, toy_root):
    cfg = compose("train", DEBUG + [f"data.root={toy_root}", "logger=default"], tmp_path)
    assert cfg.logger.wandb.offline is True
    metrics = train(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1  # a local run file `wandb sync` can upload, holding this run's result
    assert metrics["auroc"] is not None
    history = read_run(runs[0]).history
    assert history["test/auroc/toy"] == [pytest.approx(metrics["auroc"])]
    # the debug preset maps every test image: pixel metrics per class too
    assert history["test/pixel_auroc/toy"] == [pytest.approx(metrics["pixel_auroc"])]
    assert history["test/pixel_aupro/toy"] == [pytest.approx(metrics["pixel_aupro"])]


def test_a_run_of_any_length_ends_with_a_checkpoint_of_its_final_weights(tmp_path, toy_root):
    # checkpoints follow the meta-epochs (every 2nd pass here); a 3-pass run used to end with the
    # pass-2 weights on disk, so dsn-eval and dsn-predict scored another model than the run did
    _, metrics = run(tmp_path, toy_root, "trainer.max_epochs=3", "callbacks.model_checkpoint.every_n_epochs=2")
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.is_symlink() and load_module(ckpt).trained_epochs == 3
    ev_cfg = compose(
        "eval",
        [f"data.root={toy_root}", "data.category=toy", f"ckpt_path={ckpt}", "trainer.accelerator=cpu"],
        tmp_path / "eval",
    )
    assert evaluate(ev_cfg)["scores"] == pytest.approx(metrics["scores"], rel=1e-5)


def test_eval_can_score_a_checkpoint_with_other_test_rotations(tmp_path, toy_root):
    _, metrics = run(tmp_path, toy_root)  # debug: 4 test rotations
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    base = [f"data.root={toy_root}", "data.category=toy", f"ckpt_path={ckpt}", "trainer.accelerator=cpu"]
    same = evaluate(compose("eval", [*base, "test_views=4", "figures.enabled=false"], tmp_path / "t4"))
    one = evaluate(compose("eval", [*base, "test_views=1", "figures.enabled=false"], tmp_path / "t1"))
    assert same["scores"] == pytest.approx(metrics["scores"], rel=1e-5) and same["test_views"] == 4
    assert one["test_views"] == 1 and one["scores"] != pytest.approx(metrics["scores"], rel=1e-3)
    assert load_module(ckpt).hparams.views["test_views"] == 4  # the checkpoint is not changed


def test_training_rotations_can_be_switched_off(tmp_path, toy_root):
    from conftest import preset

    from dsn.lit.modules import module_for

    module = module_for(preset(weights="none", n_blocks=1, hidden=8, train_rotations=False))
    assert torch.equal(module.views.bank(5, 16, seed=0), torch.zeros(5, 1))  # one upright view per image
    bank = torch.randn(3, 1, module.model.layout.width)
    assert torch.equal(module.train_features({"views": bank}), bank.expand(3, 4, -1))
    assert torch.equal(module.views.step(2, torch.Generator()), torch.zeros(2, 1))
    rotating = module_for(preset(weights="none", n_blocks=1, hidden=8))
    assert rotating.views.bank(5, 16, seed=0).shape == (5, 16) and rotating.views.bank(5, 16, 0).abs().sum() > 0
    # the plan line says what the bank holds: one upright view per image, however many were asked for
    from omegaconf import OmegaConf

    from dsn.run.training import plan_line

    class Split(list):
        n_images = 5

    cfg = OmegaConf.create(
        {"data": {"category": "toy"}, "feature_cache": {"train": True, "bank_views": 16}, "trainer": {"max_epochs": 2}}
    )
    images = type("Images", (), {"train_set": Split([0] * 5), "test_set": Split([0] * 5)})
    assert "5 training images (1 banked view each)" in plan_line(cfg, module, images)
    assert "5 training images (16 banked views each)" in plan_line(cfg, rotating, images)
    _, metrics = run(tmp_path, toy_root, "model.views.train_rotations=false", "feature_cache.bank_views=1")
    assert metrics["epochs"] == 2 and 0.0 <= metrics["auroc"] <= 1.0


def test_colour_jitter_trains_on_the_feature_bank_with_its_own_seeded_views(tmp_path, toy_root):
    """Each banked view gets its own colour factors (seeded), as each gets its own rotation; the
    test views are never jittered, so a jittering run shares the test-feature cache of one without."""
    from conftest import preset

    from dsn.lit.modules import module_for

    module = module_for(preset(weights="none", n_blocks=1, hidden=8, brightness=0.3, train_rotations=False))
    factors = module.views.bank_jitter(5, 16, seed=0)
    assert factors.shape == (5, 16, 3) and torch.equal(factors, module.views.bank_jitter(5, 16, seed=0))
    assert not torch.equal(factors, module.views.bank_jitter(5, 16, seed=1))
    assert torch.equal(module.views.bank(5, 16, seed=0), torch.zeros(5, 16))  # upright, each view its own colour
    assert module_for(preset(weights="none", n_blocks=1, hidden=8)).views.bank_jitter(5, 16, seed=0) is None

    cache = tmp_path / "cache"
    _, plain = run(tmp_path / "plain", toy_root, f"feature_cache.dir={cache}")
    files = {p.name for p in cache.iterdir()}
    _, jittered = run(tmp_path / "jitter", toy_root, f"feature_cache.dir={cache}", "model.views.brightness=0.3")
    added = {p.name for p in cache.iterdir()} - files
    assert len(added) == 1 and next(iter(added)).startswith("train-features")  # test views reused
    assert jittered["epochs"] == 2 and jittered["scores"] != pytest.approx(plain["scores"], rel=1e-4)
