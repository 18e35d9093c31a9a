"""The patch flow head (model=patchflow): the paper's couplings on every patch, conditioned on
the patch's place, trained by maximum likelihood; an image scores as a high quantile of its
patch NLLs, and the patch NLLs are its anomaly map."""

import json

import pytest
import torch
from conftest import DEBUG, compose

from dsn.lit.checkpoints import load_module
from dsn.model.extractors import FeatureLayout
from dsn.model.heads import head_class
from dsn.train import train

SETTINGS = {"n_blocks": 2, "hidden": 32, "clamp": 3.0, "train_patches": None, "score_quantile": 1.0, "sigma": 0.0}


def patch_flow(position_dims=8, grid=2, width=6, **kw):
    torch.manual_seed(0)
    layout = FeatureLayout(rows=grid * grid, width=width, grid=grid)
    return head_class("patch_flow")(layout, seed=0, **{**SETTINGS, "position_dims": position_dims, **kw})


def trained(head, views, steps=300, lr=3e-3):
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        head.loss(views[(step * 32) % len(views) :][:32]).backward()
        opt.step()
    return head.eval()


def test_the_patch_flow_inverts_and_its_log_determinant_matches_autograd():
    head = patch_flow()
    head.loss(torch.randn(16, 4 * 6) * 5 + 3)  # fixes the input normalisation from a first batch
    assert bool(head.normalised) and head.log_scale.abs().sum() > 1  # not the identity
    with torch.no_grad():
        for p in head.flow.parameters():  # a non-trivial flow: random couplings
            p.add_(0.3 * torch.randn_like(p))
    rows, places = torch.randn(5, 6) * 5 + 3, torch.tensor([0, 1, 2, 3, 1])
    z, logdet = head(rows, places)
    back, _ = head.flow.transform.inverse(z, head.positions[places])
    torch.testing.assert_close(back * (-head.log_scale).exp() + head.shift, rows, rtol=1e-4, atol=1e-4)
    for i in range(len(rows)):
        jac = torch.autograd.functional.jacobian(lambda x, i=i: head(x[None], places[i : i + 1])[0][0], rows[i])
        assert float(torch.linalg.slogdet(jac).logabsdet) == pytest.approx(
            float(logdet[i].detach()), rel=1e-4, abs=1e-4
        )


def test_position_conditioning_changes_a_patchs_density_and_none_ignores_it():
    row = torch.randn(1, 6)
    conditioned, plain = patch_flow(position_dims=8), patch_flow(position_dims=0)
    with torch.no_grad():
        for p in conditioned.flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    z0, _ = conditioned(row, torch.tensor([0]))
    z3, _ = conditioned(row, torch.tensor([3]))
    assert not torch.allclose(z0, z3)
    p0, _ = plain(row, torch.tensor([0]))
    p3, _ = plain(row, torch.tensor([3]))
    torch.testing.assert_close(p0, p3)


def test_a_conditioned_flow_learns_what_is_normal_at_each_place():
    """Good patches are bright at the top and dark at the bottom: a bright patch at the bottom is
    an anomaly only a flow that knows the place can see (the unconditioned flow has seen both)."""
    g = torch.Generator().manual_seed(0)
    means = torch.tensor([4.0, 4.0, -4.0, -4.0])[None, :, None]  # grid 2 x 2: top row bright
    views = (means + 0.5 * torch.randn(512, 4, 6, generator=g)).reshape(512, -1)
    bad = views[:8].view(8, 4, 6).clone()
    bad[:, 3] = 4.0 + 0.5 * torch.randn(8, 6, generator=g)  # bottom-right patch bright
    bad = bad.reshape(8, -1)
    for dims, separates in ((8, True), (0, False)):
        head = trained(patch_flow(position_dims=dims), views)
        with torch.no_grad():
            good_scores, bad_scores = head.view_scores(views[8:72]), head.view_scores(bad)
        assert bool(bad_scores.min() > good_scores.max()) is separates
        if separates:
            local = head.local_scores(bad)
            assert (local.argmax(dim=1) == 3).all()  # the map points at the bright bottom patch


def test_a_view_scores_as_the_asked_quantile_of_its_patch_scores():
    head = patch_flow(grid=4, score_quantile=0.75)
    feats = torch.randn(3, 16 * 6)
    with torch.no_grad():
        local = head.local_scores(feats)
        torch.testing.assert_close(head.view_scores(feats), torch.quantile(local, 0.75, dim=1))
        assert torch.equal(patch_flow(grid=4).view_scores(feats), patch_flow(grid=4).local_scores(feats).max(1).values)


def test_a_training_step_reads_train_patches_of_each_view():
    head = patch_flow(grid=4, train_patches=3)
    seen = []
    original = head.forward
    head.forward = lambda rows, places: (seen.append(places.view(2, -1)), original(rows, places))[1]
    head.loss(torch.randn(2, 16 * 6))
    (places,) = seen
    assert places.shape == (2, 3) and all(len(set(p.tolist())) == 3 for p in places)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.head.position_dims=6", r"model.head.position_dims must be 0 or a positive multiple of 4, got 6"),
        ("model.head.score_quantile=0", r"model.head.score_quantile must be in \(0, 1\], got 0"),
        ("model.head.train_patches=0", r"model.head.train_patches must be null \(all\) or >= 1, got 0"),
    ],
)
def test_bad_settings_stop_before_any_image_is_read(tmp_path, override, message):
    from dsn.config.config_checks import ConfigError

    cfg = compose("train", [*DEBUG, f"data.root={tmp_path / 'none'}", "model=patchflow", override], tmp_path)
    with pytest.raises(ConfigError, match=message):
        train(cfg)


def test_a_patch_flow_run_trains_maps_resumes_and_its_checkpoint_scores_the_same(tmp_path, toy_root):
    base = [*DEBUG, f"data.root={toy_root}", "model=patchflow"]
    metrics = train(compose("train", base, tmp_path))
    assert (metrics["detector"], metrics["epochs"]) == ("patch_flow", 2) and metrics["pixel_auroc"] is not None
    assert metrics["map_rotations"] is None  # its maps are the upright view's patch scores, not rotated gradients
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    head = module.model.head
    assert type(head).__name__ == "PatchFlowHead" and bool(head.normalised)
    assert module.hparams.head["train_patches"] == 8 and module.hparams.head["position_dims"] == 4  # tiny
    from dsn.data.dataset import MVTecDataset

    images = MVTecDataset(toy_root, "toy", "test", image_size=32, cache_dir=None).images
    with torch.no_grad():
        scores = module.model.score(images, module.test_angles(torch.arange(len(images))))
        heat = module.model.anomaly_map(images[0], 1)
    assert scores.tolist() == pytest.approx(metrics["scores"], rel=1e-4)
    assert heat.shape == (32, 32)
    # rescored by another quantile of the same patch scores (dsn-eval score_quantile=0.5), no training
    from dsn.run.evaluation import evaluate

    ckpt = f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}"
    median = evaluate(
        compose("eval", [ckpt, f"data.root={toy_root}", "data.category=toy", "score_quantile=0.5"], tmp_path / "q")
    )
    module.model.head.score_quantile = 0.5
    with torch.no_grad():
        expected = module.model.score(images, module.test_angles(torch.arange(len(images))))
    assert median["score_quantile"] == 0.5 and median["scores"] == pytest.approx(expected.tolist(), rel=1e-4)
    assert median["scores"] != pytest.approx(metrics["scores"], rel=1e-4)
    longer = train(compose("train", [*base, "trainer.max_epochs=3"], tmp_path))  # resumes from epoch 2
    assert longer["epochs"] == 3 and longer["fit_from_epoch"] == 2


def test_a_sweep_searches_the_patch_flows_width_blocks_taps_and_patches(tmp_path):
    import subprocess

    import optuna
    from conftest import REPO, make_tree, sweep_cmd

    root = make_tree(tmp_path / "data")
    cmd = [a for a in sweep_cmd(root, tmp_path / "logs") if a != "hparams_search=debug"]
    cmd += ["hparams_search=patch_flow", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", "model.tiny=false"]
    cmd += ["model.features.grid=4"]  # 16 patches a view: the search space as it is, at toy cost
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=600)
    study = optuna.load_study(
        study_name="patch_flow_patchflow_toy",
        storage=f"sqlite:///{tmp_path}/logs/debug/multiruns/patch_flow_patchflow_toy.db",
    )
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 2 and all(0.0 <= t.value <= 1.0 for t in done)
    wanted = {"model.head.hidden", "model.head.n_blocks", "model.features.taps", "model.head.train_patches"}
    assert set(done[0].params) == wanted
    for trial in done:  # each trial ran with the settings it was given
        cfg = tmp_path / "logs" / "debug" / "multiruns" / "patch_flow_patchflow_toy" / str(trial.number)
        hp = json.loads((cfg / "metrics.json").read_text())["identity"]
        assert hp["model.head.hidden"] == trial.params["model.head.hidden"]
        assert hp["model.features.taps"] == json.loads(trial.params["model.features.taps"])
