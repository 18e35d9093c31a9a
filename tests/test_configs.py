"""Config composition: the paper presets and the ablation backbones, the debug preset, and what they build."""

import pytest
from conftest import compose


@pytest.mark.parametrize(
    "preset, backbone, width, flow_in",
    [
        ("differsqueezenet", "squeezenet1_1", 128, 384),
        ("differnet", "alexnet", 256, 768),
        ("differlite0", "efficientnet_lite0", 112, 336),
        ("differmobilenet", "mobilenet_v3_small", 96, 288),
        ("squeezenet_full_1scale", "squeezenet1_1", 512, 512),
        ("squeezenet_full_3scale", "squeezenet1_1", 512, 1536),
    ],
)
def test_model_presets_keep_the_paper_flow_and_optimiser(tmp_path, preset, backbone, width, flow_in):
    cfg = compose("train", [f"model={preset}", "model.features.weights=none"], tmp_path)
    assert cfg.model.features.backbone == backbone and cfg.model.features.n_features == width
    assert (cfg.model.head.n_blocks, cfg.model.head.hidden, cfg.model.head.clamp) == (8, 2048, 3.0)
    assert (
        cfg.model.optimizer.lr,
        list(cfg.model.optimizer.betas),
        cfg.model.optimizer.eps,
        cfg.model.optimizer.weight_decay,
    ) == (
        2e-4,
        [0.8, 0.8],
        1e-4,
        1e-5,
    )
    assert (cfg.data.batch_size * cfg.model.views.train_views, cfg.model.views.test_views) == (96, 64)
    assert cfg.trainer.max_epochs == 192 and cfg.trainer.check_val_every_n_epoch == 8
    assert cfg.logger.wandb.offline is True
    from dsn.config.instantiate import build_module

    module = build_module(cfg)
    assert type(module).__name__ == "GradientLightning" and module.model.layout.width == flow_in


@pytest.mark.parametrize("name", ["differsqueezenet", "knn", "patchcore"])
def test_debug_preset_is_tiny_for_every_head(tmp_path, name):
    from dsn.config.instantiate import build_module

    cfg = compose("train", ["debug=default", f"model={name}"], tmp_path)
    assert cfg.trainer.max_epochs <= 2 and cfg.data.image_size <= 64 and cfg.model.tiny is True
    assert cfg.model.features.weights == "none" and "wandb" not in cfg.logger
    head = build_module(cfg).hparams.head  # what the run builds and its checkpoint records
    assert {k: head[k] for k in type(build_module(cfg).model.head).tiny} == type(build_module(cfg).model.head).tiny
    assert sum(p.numel() for p in build_module(cfg).model.head.parameters()) < 100_000


def test_a_head_setting_given_on_the_command_line_wins_over_tiny(tmp_path):
    from dsn.config.instantiate import build_module

    cfg = compose("train", ["debug=default", "model.head.hidden=24"], tmp_path)
    assert (build_module(cfg).hparams.head["hidden"], build_module(cfg).hparams.head["n_blocks"]) == (24, 2)


def test_eval_config_requires_a_checkpoint(tmp_path):
    from omegaconf.errors import MissingMandatoryValue

    cfg = compose("eval", [], tmp_path)
    with pytest.raises(MissingMandatoryValue):
        _ = cfg.ckpt_path


@pytest.mark.parametrize("overrides", [["trainer.devices=2"], ["trainer.devices=2", "trainer.strategy=ddp_spawn"]])
def test_several_ranks_for_one_run_are_refused(tmp_path, overrides):
    """Each rank would score only its shard of the test set (AUROC per rank, no gather): dsn
    refuses a multi-process trainer instead of reporting a wrong number."""
    from dsn.config.instantiate import build_trainer

    cfg = compose("train", ["debug=default", *overrides], tmp_path)
    with pytest.raises(ValueError, match=r"one flow per process, but trainer.devices=2 .* start 2"):
        build_trainer(cfg)


@pytest.mark.parametrize(
    "baseline, flow",
    [
        ("knn", "differsqueezenet"),
        ("knn_alexnet", "differnet"),
        ("knn_full_1scale", "squeezenet_full_1scale"),
        ("knn_full_3scale", "squeezenet_full_3scale"),
        ("knn_lite0", "differlite0"),
    ],
)
def test_each_knn_baseline_sees_exactly_its_flows_input(tmp_path, baseline, flow):
    import torch

    from dsn.config.instantiate import build_module

    built = {}
    for name in (baseline, flow):
        cfg = compose("train", [f"model={name}", "model.features.weights=none"], tmp_path)
        built[name] = build_module(cfg)
    knn, differ = built[baseline], built[flow]
    assert type(knn).__name__ == "FittedLightning"
    assert knn.hparams.features == differ.hparams.features and knn.hparams.views == differ.hparams.views
    knn.model.features.load_state_dict(differ.model.features.state_dict())  # same layers, same names
    x = torch.rand(2, 3, 256, 256)  # AlexNet's full block needs 64 px at the 1/4 scale
    angles = torch.tensor([[0.0, 45.0], [90.0, 10.0]])
    assert torch.equal(knn.model.embed(x, angles), differ.model.embed(x, angles))


def test_backbone_comparison_puts_the_baselines_beside_the_flows(tmp_path):
    cfg = compose("train", ["experiment=backbone_comparison", "model.features.weights=none"], tmp_path)
    models = cfg.hydra.sweeper.params.model.split(",")
    assert {"knn", "knn_alexnet", "patchcore"} <= set(models) and "differsqueezenet" in models
    taps = {}
    for name in models:  # every listed preset composes
        m = compose("train", ["experiment=backbone_comparison", f"model={name}"], tmp_path).model
        kind = m.head.kind
        if m.features.kind == "pooled":  # the patch bank has taps of its own
            taps.setdefault(kind, set()).add((m.features.backbone, m.features.n_features, m.features.n_scales))
    assert taps["flow"] <= taps["knn"], "a flow without the kNN on its own features beside it"


def test_the_lite0_patch_bank_is_the_patch_bank_on_lite0_patches_with_a_larger_bank(tmp_path):
    base, lite0 = (compose("train", [f"model={name}"], tmp_path).model for name in ("patchcore", "patchcore_lite0"))
    assert (lite0.features.backbone, list(lite0.features.taps)) == ("efficientnet_lite0", [112, 320])
    assert lite0.head.bank_size > base.head.bank_size
    same = lambda m: {k: v for k, v in m.items() if k not in ("name", "features", "head")}  # noqa: E731
    assert same(lite0) == same(base) and {**lite0.head, "bank_size": None} == {**base.head, "bank_size": None}
    drop = ("backbone", "taps")
    assert {k: v for k, v in lite0.features.items() if k not in drop} == {
        k: v for k, v in base.features.items() if k not in drop
    }


def test_tap_comparison_puts_each_tap_beside_its_knn_and_the_patch_bank(tmp_path):
    cfg = compose("train", ["experiment=tap_comparison", "model.features.weights=none"], tmp_path)
    models = cfg.hydra.sweeper.params.model.split(",")
    taps = {}
    for name in models:
        m = compose("train", ["experiment=tap_comparison", f"model={name}"], tmp_path).model
        f = m.features
        taps.setdefault((f.backbone, f.get("n_features"), f.get("n_scales")), set()).add(m.head.kind)
    for tap in [("squeezenet1_1", 128, 3), ("squeezenet1_1", 512, 1), ("squeezenet1_1", 512, 3)]:
        assert taps[tap] == {"flow", "knn"}, tap
    assert "patchcore" in models and cfg.trainer.max_epochs == 192
    small = compose("train", ["experiment=tap_comparison", "model=squeezenet_full_3scale_small"], tmp_path).model
    assert (small.features.n_features, small.features.n_scales, small.head.n_blocks, small.head.hidden) == (
        512,
        3,
        5,
        391,
    )
