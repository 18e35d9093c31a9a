"""The Deep SVDD head (model.head.kind=svdd): a bias-free network pulls good features to a fixed
centre set from its first batch; the squared distance to the centre is the score."""

import pytest
import torch
from conftest import DEBUG, compose

from dsn.lit.checkpoints import load_module
from dsn.model.extractors import FeatureLayout
from dsn.model.heads import head_class
from dsn.train import train


def svdd(width: int = 16, rows: int = 1):
    torch.manual_seed(0)
    return head_class("svdd")(FeatureLayout(rows=rows, width=width), seed=0, hidden=32, out_features=8)


def test_training_pulls_good_rows_to_the_fixed_centre_and_outliers_stay_far():
    head = svdd()
    g = torch.Generator().manual_seed(0)
    good = torch.randn(512, 16, generator=g) * 0.3 + 1.0
    opt = torch.optim.Adam(head.parameters(), lr=1e-3, weight_decay=1e-6)
    first = head.loss(good[:64])
    centre = head.centre.clone()
    assert bool(head.centred) and (centre.abs() >= 0.1).all()  # no coordinate left near 0
    for step in range(300):
        batch = good[(step * 64) % 512 :][:64]
        opt.zero_grad()
        head.loss(batch).backward()
        opt.step()
    assert torch.equal(head.centre, centre)  # the centre never moves after the first batch
    with torch.no_grad():
        assert float(head.loss(good)) < 0.2 * float(first)
    outliers = torch.randn(64, 16, generator=g) * 3.0 - 2.0
    assert head.view_scores(outliers).median() > 5 * head.view_scores(good).median()


def test_a_network_with_biases_is_refused_by_design():
    head = svdd()
    assert all(m.bias is None for m in head.net if isinstance(m, torch.nn.Linear))


def test_bad_widths_stop_before_any_image_is_read(tmp_path):
    from dsn.config.config_checks import ConfigError

    cfg = compose("train", [*DEBUG, f"data.root={tmp_path / 'none'}", "model=svdd", "model.head.hidden=0"], tmp_path)
    with pytest.raises(ConfigError, match=r"model.head.hidden must be an integer >= 1, got 0"):
        train(cfg)


def test_an_svdd_run_trains_resumes_and_its_checkpoint_keeps_the_centre(tmp_path, toy_root):
    base = [*DEBUG, f"data.root={toy_root}", "model=svdd"]
    metrics = train(compose("train", base, tmp_path))
    assert (metrics["detector"], metrics["epochs"]) == ("svdd", 2) and 0.0 <= metrics["auroc"] <= 1.0
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    assert type(module).__name__ == "GradientLightning" and bool(module.model.head.centred)
    assert module.hparams.head == {"kind": "svdd", "hidden": 16, "out_features": 8}  # debug: the head's tiny size
    from dsn.data.dataset import MVTecDataset

    images = MVTecDataset(toy_root, "toy", "test", image_size=32, cache_dir=None).images
    scores = module.model.score(images, module.test_angles(torch.arange(len(images))))
    assert scores.tolist() == pytest.approx(metrics["scores"], rel=1e-4)
    longer = train(compose("train", [*base, "trainer.max_epochs=3"], tmp_path))  # resumes from epoch 2
    assert longer["epochs"] == 3 and longer["fit_from_epoch"] == 2
