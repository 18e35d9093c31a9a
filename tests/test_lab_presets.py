"""The lab presets (conf/experiment/lab/, the recipes of the CPU tables) compose to what their
committed runs recorded: for every committed run named ``<preset>_<category>_<passes>p_s<seed>``,
the preset with that category, length and seed gives the same model, features, head settings, test
views and training bank, and passes dsn-train's checks. So a committed number keeps the command
that makes it again: ``dsn-train -m experiment=lab/<preset> weights=... data.category=...``."""

import json
import re

import pytest
from conftest import REPO, compose

from dsn.config.config_checks import check_train_config
from dsn.lit.modules import effective_hparams

pytestmark = pytest.mark.lab  # guards the lab notebook, not the product (pyproject's markers)

PRESETS = sorted(
    p.stem for p in (REPO / "conf" / "experiment" / "lab").glob("[!_]*.yaml")
)  # _cpu_table: their shared part
RUN_NAME = re.compile(
    r"^(?P<preset>\w+?)_(?P<cat>bottle|magnetic_tile_differnet|magnetic_tile)_(?P<p>\d+)p_s(?P<s>\d)$"
)


def committed_runs() -> list[tuple[str, str, int, int, dict]]:
    runs = []
    for f in sorted((REPO / "experiments" / "results").glob("*/runs/*/metrics.json")):
        m = RUN_NAME.match(f.parent.name)
        if m and m["preset"] in PRESETS:
            runs.append((m["preset"], m["cat"], int(m["p"]), int(m["s"]), json.loads(f.read_text())))
    return runs


RUNS = committed_runs()


def test_the_committed_runs_are_found():
    """Most presets name committed runs (the rest made runs kept under other names, e.g. the Magnetic
    Tile ablations of experiments/results/mt_reference/)."""
    assert len({r[0] for r in RUNS}) >= 20 and len(RUNS) >= 90


GROUPS = sorted({(r[0], r[1]) for r in RUNS})


@pytest.mark.parametrize("preset,category", GROUPS, ids=[f"{p}-{c}" for p, c in GROUPS])
def test_a_preset_composes_to_what_its_committed_runs_recorded(preset, category, tmp_path):
    from omegaconf import OmegaConf

    overrides = [f"experiment=lab/{preset}", "weights=/shared/weights", f"data.category={category}"]
    cfg = compose("train", overrides, tmp_path)
    check_train_config(cfg)
    assert cfg.data.val_fraction == 0.0 and cfg.trainer.accelerator == "cpu"
    hp = effective_hparams(OmegaConf.to_container(cfg.model, resolve=True))
    features, head = hp["features"], hp["head"]
    made = {
        "model": hp["name"],
        "backbone": features["backbone"],
        "test_views": hp["views"]["test_views"],
        **{k: features[k] for k in ("n_features", "n_scales") if k in features},
        **{k: head[k] for k in ("hidden", "n_blocks", "k") if k in head},
    }
    for _, _, passes, seed, recorded in (r for r in RUNS if r[:2] == (preset, category)):
        # the length and seed are the command line's (trainer.max_epochs=<passes> seed=<seed>)
        assert (recorded["epochs"], recorded["seed"]) == (passes, seed)
        bank = {"bank_views": cfg.feature_cache.bank_views} if recorded.get("bank_views") is not None else {}
        assert {k: recorded.get(k, v) for k, v in {**made, **bank}.items()} == {**made, **bank}
