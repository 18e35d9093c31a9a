"""A model's three settings sections (features, views, head) each take exactly their part's
settings: an unknown key (a typo) or a missing one stops the run before any image is read, with
one line naming it. A missing view setting used to end in a TypeError from deep inside."""

import pytest
from conftest import DEBUG, compose

from dsn.config.config_checks import ConfigError
from dsn.train import train


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "+model.head.hiden=64",
            "model.head of kind 'flow' takes ['clamp', 'hidden', 'n_blocks']; model.head.hiden: not",
        ),
        (
            "~model.head.clamp",
            "model.head of kind 'flow' takes ['clamp', 'hidden', 'n_blocks']; missing model.head.clamp",
        ),
        ("+model.views.tets_views=4", "model.views.tets_views: not one of them"),
        ("~model.views.test_views", "; missing model.views.test_views"),
        ("+model.features.taps=[256]", "model.features of kind 'pooled' takes"),
        ("~model.features.n_scales", "missing model.features.n_scales"),
        ("+model.optimizer.momentum=0.9", "model.optimizer.momentum: not one of them"),
        ("~model.optimizer.eps", "missing model.optimizer.eps"),
    ],
)
def test_a_stray_or_missing_setting_is_one_line_before_any_image(tmp_path, override, message):
    cfg = compose("train", [*DEBUG, f"data.root={tmp_path / 'no_data_here'}", override], tmp_path)
    with pytest.raises(ConfigError) as err:
        train(cfg)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
