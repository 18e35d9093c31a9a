"""The Gaussian head (model.head.kind=gaussian): one Gaussian on the training rows, the
Mahalanobis distance as the score, the covariance shrunk by Ledoit and Wolf's weight."""

import json

import pytest
import torch
from conftest import DEBUG, compose

from dsn.lit.checkpoints import load_module
from dsn.model.extractors import FeatureLayout
from dsn.model.heads import head_class
from dsn.train import train


def gaussian(width: int, shrinkage="auto", rows: int = 1):
    return head_class("gaussian")(FeatureLayout(rows=rows, width=width), seed=0, shrinkage=shrinkage)


def test_without_shrinkage_the_score_is_the_mahalanobis_distance():
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(6, 6, generator=g)
    rows = torch.randn(4000, 6, generator=g) @ mix + 3.0
    head = gaussian(6, shrinkage=0.0)
    assert not head.fitted
    head.fit(rows)
    assert head.fitted and float(head.shrunk_by) == 0.0
    x = torch.randn(5, 6, generator=g) * 4
    mean, cov = rows.double().mean(0), torch.cov(rows.double().T, correction=0)
    d = x.double() - mean
    expected = (d @ torch.linalg.inv(cov) * d).sum(1).sqrt()
    assert torch.allclose(head.view_scores(x).double(), expected, rtol=1e-4)
    assert float(head.view_scores(mean.float().unsqueeze(0))) < 1e-3


def test_ledoit_wolf_shrinks_little_with_many_rows_and_rescues_few():
    g = torch.Generator().manual_seed(1)
    many = gaussian(8)
    many.fit(torch.randn(20_000, 8, generator=g) * torch.linspace(0.5, 2.0, 8))
    assert 0.0 <= float(many.shrunk_by) < 0.05
    few = gaussian(64)  # fewer rows than features: the sample covariance is singular
    few.fit(torch.randn(20, 64, generator=g))
    assert 0.1 < float(few.shrunk_by) <= 1.0
    assert torch.isfinite(few.view_scores(torch.randn(3, 64, generator=g))).all()


def test_on_patches_a_view_scores_as_its_farthest_patch():
    head = gaussian(4, shrinkage=0.0, rows=9)
    head.fit(torch.randn(900, 4, generator=torch.Generator().manual_seed(2)))
    views = torch.zeros(2, 9, 4)
    views[1, 5] = 6.0  # one far patch
    local = head.local_scores(views.reshape(2, -1))
    assert local.shape == (2, 9) and head.view_scores(views.reshape(2, -1))[1] == local[1].max()
    assert int(local[1].argmax()) == 5


def test_bad_shrinkage_stops_before_any_image_is_read(tmp_path, toy_root):
    from dsn.config.config_checks import ConfigError

    cfg = compose(
        "train", [*DEBUG, f"data.root={tmp_path / 'none'}", "model=gaussian", "model.head.shrinkage=2"], tmp_path
    )
    with pytest.raises(ConfigError, match=r"model.head.shrinkage must be 'auto' or a number in \[0, 1\], got 2"):
        train(cfg)


def test_a_gaussian_run_fits_once_and_its_checkpoint_scores_the_same(tmp_path, toy_root):
    metrics = train(compose("train", [*DEBUG, f"data.root={toy_root}", "model=gaussian"], tmp_path))
    assert (metrics["detector"], metrics["epochs"], metrics["flow_params"]) == ("gaussian", 1, 0)
    assert 0.0 <= metrics["auroc"] <= 1.0
    assert json.loads((tmp_path / "metrics.json").read_text())["scores"] == metrics["scores"]
    module = load_module(tmp_path / "checkpoints" / "last.ckpt")
    assert type(module).__name__ == "FittedLightning" and module.model.head.fitted
    from dsn.data.dataset import MVTecDataset

    images = MVTecDataset(toy_root, "toy", "test", image_size=32, cache_dir=None).images
    scores = module.model.score(images, module.test_angles(torch.arange(len(images))))
    assert scores.tolist() == pytest.approx(metrics["scores"], rel=1e-4)
