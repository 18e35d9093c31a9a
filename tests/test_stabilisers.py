"""Stabilisers of the last-epoch score (off by default): EMA of the weights and a cosine learning
rate. What a user relies on: the run's score and its checkpoint agree (a SIGKILLed stabilised run
resumes to the same end: tests/test_kill_resume.py)."""

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from conftest import DEBUG, compose

from dsn.evaluate import evaluate
from dsn.lit.checkpoints import load_module
from dsn.lit.stabilisers import FlowEMA
from dsn.train import train


def run(out, root, *extra):
    return train(compose("train", DEBUG + [f"data.root={root}", *extra], out))


def rescore(ckpt, root, out):
    cfg = compose(
        "eval", [f"data.root={root}", "data.category=toy", f"ckpt_path={ckpt}", "trainer.accelerator=cpu"], out
    )
    return evaluate(cfg)["scores"]


def test_presets_train_as_the_reference_without_stabilisers(tmp_path):
    cfg = compose("train", ["experiment=differnet_paper"], tmp_path)
    assert cfg.model.optimizer.lr_schedule == "constant" and "ema" not in cfg.callbacks


def test_ema_weights_score_the_test_set_and_are_what_the_checkpoint_holds(tmp_path, toy_root):
    extra = ["callbacks=stabilised", "callbacks.ema.decay=0.5", "trainer.max_epochs=3", "data.val_fraction=0.34"]
    ema = run(tmp_path / "ema", toy_root, *extra)
    raw = run(tmp_path / "raw", toy_root, *extra[2:])
    assert ema["scores"] != pytest.approx(raw["scores"], rel=1e-3)  # the average is not the last weights
    ckpt = tmp_path / "ema" / "checkpoints" / "last.ckpt"
    assert rescore(ckpt, toy_root, tmp_path / "ev") == pytest.approx(ema["scores"], rel=1e-5)
    assert load_module(ckpt).stored_decision.threshold == pytest.approx(ema["threshold"])  # kept with the weights


def test_a_resumed_warmed_up_ema_ends_where_an_uninterrupted_one_does(tmp_path, toy_root):
    """The warm-up's decay depends on how many updates came before, so a resume must continue the
    count (with decay 0.999 the warm-up lasts the whole run: a count restarted at the resume would
    average a shorter stretch of it)."""
    ema = ["callbacks=stabilised", "callbacks.ema.decay=0.999", "callbacks.ema.warmup=true"]
    full = run(tmp_path / "full", toy_root, *ema, "trainer.max_epochs=3")
    run(tmp_path / "cut", toy_root, *ema, "trainer.max_epochs=1")  # "interrupted" after epoch 1
    resumed = run(tmp_path / "cut", toy_root, *ema, "trainer.max_epochs=3")  # picks up last.ckpt
    assert (full["fit_from_epoch"], resumed["fit_from_epoch"]) == (0, 1)
    assert resumed["scores"] == pytest.approx(full["scores"], rel=1e-5)


def test_cosine_schedule_ends_at_a_hundredth_of_the_rate(tmp_path, toy_root):
    run(tmp_path, toy_root, "model.optimizer.lr_schedule=cosine", "trainer.max_epochs=4")
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    lr = ckpt["optimizer_states"][0]["param_groups"][0]["lr"]
    assert lr == pytest.approx(2e-4 / 100, rel=1e-6)


class _OneWeight(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))


def _average_of_climbing_weights(ema: FlowEMA, steps: int) -> float:
    """The average after ``steps`` optimiser steps of a weight that is ``t`` after step ``t``."""
    module = _OneWeight()
    ema.setup(SimpleNamespace(), module, "fit")
    for step in range(1, steps + 1):
        module.w.data.fill_(step)
        ema.on_train_batch_end(SimpleNamespace(global_step=step), module, None, None, step - 1)
    ema.on_train_end(SimpleNamespace(), module)  # the average becomes the module's weights
    return module.w.item()


@pytest.mark.parametrize("warmup", [False, True])
@pytest.mark.parametrize("every", [1, 4])
def test_an_ema_updated_every_n_steps_averages_over_as_many_steps(every, warmup):
    """decay**N per update keeps the horizon: on weights that climb by 1 per step the average lags
    d / (1 - d) = 49 steps behind for d = 0.98 (the N-step average: within 5%; with d per update
    instead of d**N it would lag 4 times as far). The warm-up has ended by then (t > 440)."""
    average = _average_of_climbing_weights(FlowEMA(decay=0.98, every_n_steps=every, warmup=warmup), 1000)
    assert 1000 - average == pytest.approx(0.98 / 0.02, rel=0.05)


@pytest.mark.parametrize("every", [1, 8])
def test_a_warmed_up_ema_lets_the_first_weights_fade_early(every):
    """After 100 steps at decay 0.995 the plain average still holds 61% of the step-1 copy and lags
    the weights by ~78 steps; warmed up it averages roughly the last tenth of the run (lag 10)."""
    plain = _average_of_climbing_weights(FlowEMA(decay=0.995, every_n_steps=every), 100)
    warm = _average_of_climbing_weights(FlowEMA(decay=0.995, every_n_steps=every, warmup=True), 100)
    assert 100 - plain > 70
    assert 100 - warm == pytest.approx(10, abs=0.5)


def test_a_run_averages_after_every_nth_optimiser_step(tmp_path, toy_root):
    extra = ["callbacks=stabilised", "callbacks.ema.every_n_steps=2", "trainer.max_epochs=2"]
    run(tmp_path, toy_root, *extra)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] >= 4
    assert int(ckpt["averaging_state"]["n_averaged"]) == ckpt["global_step"] // 2


def test_an_ema_period_below_one_is_refused():
    with pytest.raises(ValueError, match="callbacks.ema.every_n_steps"):
        FlowEMA(decay=0.9, every_n_steps=0)
    with pytest.raises(ValueError, match="callbacks.ema.warmup"):
        FlowEMA(decay=0.9, warmup="yes")
