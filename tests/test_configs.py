"""Config composition: the paper presets and the ablation backbones, the debug preset, and what they build."""

import pytest
from conftest import compose
from hydra.utils import instantiate


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
    cfg = compose("train", [f"model={preset}", "model.weights=none"], tmp_path)
    assert cfg.model.backbone == backbone and cfg.model.n_features == width
    assert (cfg.model.n_blocks, cfg.model.hidden, cfg.model.clamp) == (8, 2048, 3.0)
    assert (cfg.model.lr, list(cfg.model.betas), cfg.model.eps, cfg.model.weight_decay) == (
        2e-4,
        [0.8, 0.8],
        1e-4,
        1e-5,
    )
    assert (cfg.data.batch_size * cfg.model.train_views, cfg.model.test_views) == (96, 64)
    assert cfg.trainer.max_epochs == 192 and cfg.trainer.check_val_every_n_epoch == 8
    assert cfg.logger.wandb.offline is True
    module = instantiate(cfg.model, seed=0, category="bottle")
    assert module.model.n_flow_features == flow_in


def test_debug_preset_is_tiny(tmp_path):
    cfg = compose("train", ["debug=default"], tmp_path)
    assert cfg.trainer.max_epochs <= 2 and cfg.model.hidden <= 64 and cfg.data.image_size <= 64
    assert cfg.model.weights == "none" and "wandb" not in cfg.logger


def test_eval_config_requires_a_checkpoint(tmp_path):
    from omegaconf.errors import MissingMandatoryValue

    cfg = compose("eval", [], tmp_path)
    with pytest.raises(MissingMandatoryValue):
        _ = cfg.ckpt_path


@pytest.mark.parametrize("overrides", [["trainer.devices=2"], ["trainer.devices=2", "trainer.strategy=ddp_spawn"]])
def test_several_ranks_for_one_run_are_refused(tmp_path, overrides):
    """Each rank would score only its shard of the test set (AUROC per rank, no gather): dsn
    refuses a multi-process trainer instead of reporting a wrong number."""
    from dsn.engine.instantiate import build_trainer

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

    from dsn.engine.instantiate import build_module

    built = {}
    for name in (baseline, flow):
        cfg = compose("train", [f"model={name}", "model.weights=none"], tmp_path)
        built[name] = build_module(cfg)
    knn, differ = built[baseline], built[flow]
    assert type(knn).__name__ == "KNNLightning"
    for key in ("backbone", "n_features", "n_scales", "rotation_mode", "scale_mode", "test_views", "test_angles"):
        assert knn.hparams[key] == differ.hparams[key], key
    knn.model.features.load_state_dict(differ.model.features.state_dict())  # same layers, same names
    x = torch.rand(2, 3, 256, 256)  # AlexNet's full block needs 64 px at the 1/4 scale
    angles = torch.tensor([[0.0, 45.0], [90.0, 10.0]])
    assert torch.equal(knn.model.embed(x, angles), differ.model.embed(x, angles))


def test_backbone_comparison_puts_the_baselines_beside_the_flows(tmp_path):
    cfg = compose("train", ["experiment=backbone_comparison", "model.weights=none"], tmp_path)
    models = cfg.hydra.sweeper.params.model.split(",")
    assert {"knn", "knn_alexnet", "patchcore"} <= set(models) and "differsqueezenet" in models
    taps = {}
    for name in models:  # every listed preset composes
        m = compose("train", ["experiment=backbone_comparison", f"model={name}"], tmp_path).model
        kind = m.get("detector", "flow")
        if kind in ("flow", "knn"):  # the patch bank has taps of its own
            taps.setdefault(kind, set()).add((m.backbone, m.n_features, m.n_scales))
    assert taps["flow"] <= taps["knn"], "a flow without the kNN on its own features beside it"


def test_tap_comparison_puts_each_tap_beside_its_knn_and_the_patch_bank(tmp_path):
    cfg = compose("train", ["experiment=tap_comparison", "model.weights=none"], tmp_path)
    models = cfg.hydra.sweeper.params.model.split(",")
    taps = {}
    for name in models:
        m = compose("train", ["experiment=tap_comparison", f"model={name}"], tmp_path).model
        taps.setdefault((m.backbone, m.get("n_features"), m.get("n_scales")), set()).add(m.get("detector", "flow"))
    for tap in [("squeezenet1_1", 128, 3), ("squeezenet1_1", 512, 1), ("squeezenet1_1", 512, 3)]:
        assert taps[tap] == {"flow", "knn"}, tap
    assert "patchcore" in models and cfg.trainer.max_epochs == 192
    small = compose("train", ["experiment=tap_comparison", "model=squeezenet_full_3scale_small"], tmp_path).model
    assert (small.n_features, small.n_scales, small.n_blocks, small.hidden) == (512, 3, 5, 391)
