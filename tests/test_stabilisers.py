"""Stabilisers of the last-epoch score (off by default): EMA of the weights and a cosine learning
rate. What a user relies on: the run's score and its checkpoint agree (a SIGKILLed stabilised run
resumes to the same end: tests/test_kill_resume.py)."""

import pytest
import torch
from conftest import compose

from dsn.engine.checkpoints import load_module
from dsn.evaluate import evaluate
from dsn.train import train

DEBUG = ["debug=default", "data.category=toy", "data.image_size=32", "data.batch_size=3"]


def run(out, root, *extra):
    return train(compose("train", DEBUG + [f"data.root={root}", *extra], out))


def rescore(ckpt, root, out):
    cfg = compose(
        "eval", [f"data.root={root}", "data.category=toy", f"ckpt_path={ckpt}", "trainer.accelerator=cpu"], out
    )
    return evaluate(cfg)["scores"]


def test_presets_train_as_the_reference_without_stabilisers(tmp_path):
    cfg = compose("train", ["experiment=differnet_paper"], tmp_path)
    assert cfg.model.lr_schedule == "constant" and "ema" not in cfg.callbacks


def test_ema_weights_score_the_test_set_and_are_what_the_checkpoint_holds(tmp_path, toy_root):
    extra = ["callbacks=stabilised", "callbacks.ema.decay=0.5", "trainer.max_epochs=3", "data.val_fraction=0.34"]
    ema = run(tmp_path / "ema", toy_root, *extra)
    raw = run(tmp_path / "raw", toy_root, *extra[2:])
    assert ema["scores"] != pytest.approx(raw["scores"], rel=1e-3)  # the average is not the last weights
    ckpt = tmp_path / "ema" / "checkpoints" / "last.ckpt"
    assert rescore(ckpt, toy_root, tmp_path / "ev") == pytest.approx(ema["scores"], rel=1e-5)
    assert load_module(ckpt).stored_decision.threshold == pytest.approx(ema["threshold"])  # kept with the weights


def test_cosine_schedule_ends_at_a_hundredth_of_the_rate(tmp_path, toy_root):
    run(tmp_path, toy_root, "model.lr_schedule=cosine", "trainer.max_epochs=4")
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    lr = ckpt["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr == pytest.approx(2e-4 / 100, rel=1e-6)
