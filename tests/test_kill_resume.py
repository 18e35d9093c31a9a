"""A training run killed with SIGKILL resumes from its last checkpoint and ends with the same
metrics as an uninterrupted run of the same seed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, make_tree


def command(root, run_dir, epochs, extra=()):
    return [
        sys.executable,
        "-m",
        "dsn.train",
        "debug=default",
        f"data.root={root}",
        "data.category=toy",
        "data.image_size=32",
        "data.batch_size=2",
        f"trainer.max_epochs={epochs}",
        "model.head.hidden=64",
        "figures.enabled=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


# the stabilisers add state a resume must restore: the averaged weights beside the raw ones, and
# the learning-rate schedule's position
STABILISED = ("callbacks=stabilised", "callbacks.ema.decay=0.9", "model.optimizer.lr_schedule=cosine")


# the stabilised variant is `slow` (make test-slow): the averaged weights' resume is also checked in
# the default suite by tests/test_stabilisers.py (a resume through the run directory, no kill)
@pytest.mark.parametrize(
    "extra", [(), pytest.param(STABILISED, marks=pytest.mark.slow)], ids=["reference", "stabilised"]
)
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, extra):
    root = make_tree(tmp_path / "data", n_train=40)
    epochs = 16
    subprocess.run(command(root, tmp_path / "full", epochs, extra), cwd=REPO, check=True, capture_output=True)
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        command(root, killed, epochs, extra), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ckpt, deadline = killed / "checkpoints" / "last.ckpt", time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("the run ended before it could be killed; make it longer")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()

    subprocess.run(command(root, killed, epochs, extra), cwd=REPO, check=True, capture_output=True)  # same command
    resumed = json.loads((killed / "metrics.json").read_text())
    assert resumed["epochs"] == full["epochs"] == epochs
    assert resumed["fit_steps"] < full["fit_steps"]  # it really resumed rather than starting over
    assert resumed["scores"] == pytest.approx(full["scores"], rel=1e-5)
    assert resumed["auroc"] == pytest.approx(full["auroc"])


def test_a_killed_feature_bank_keeps_what_it_computed(tmp_path, processes):
    """Embedding a training bank is the long part of a short run (Magnetic Tile's 64 views of 761
    images: 51 min on a 2-core CPU). A SIGKILL mid-way loses at most ``feature_cache.save_every_s``
    of it: the rerun takes the saved images' features as they are and computes only the rest."""
    import torch

    root = make_tree(tmp_path / "data", n_train=40)
    cache = tmp_path / "cache"
    bank = [f"feature_cache.dir={cache}", "feature_cache.bank_views=64", "feature_cache.batch_images=1"]
    saving = [*bank, "feature_cache.save_every_s=0"]  # keep every image's features as soon as they exist
    proc = processes.start(command(root, tmp_path / "killed", 1, saving))
    partial, deadline = None, time.monotonic() + 120
    while partial is None and proc.poll() is None and time.monotonic() < deadline:
        partial = next(cache.glob("train-features-*.partial.pt"), None)
        time.sleep(0.01)
    if partial is None:
        pytest.fail(f"no partial training bank appeared within 120 s:\n{proc.log.read_text()[-2000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = torch.load(partial, weights_only=True)
    n_kept = kept.shape[0]
    assert 0 < n_kept < 40 and kept.shape[1] == 64
    torch.save(kept + 1000.0, partial)  # marked: a rerun that recomputed these images would lose the mark

    rerun = subprocess.run(command(root, tmp_path / "killed", 1, saving), cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"features: {n_kept}/40 images kept from an interrupted run" in rerun.stdout
    assert not list(cache.glob("*.partial.pt"))  # the finished entry replaces it
    (finished,) = cache.glob("train-features-*.pt")
    resumed = torch.load(finished, weights_only=True)

    other = tmp_path / "other_cache"
    whole = [f"feature_cache.dir={other}", *bank[1:]]  # the default interval: no partial in this short run
    subprocess.run(command(root, tmp_path / "whole", 1, whole), cwd=REPO, check=True, capture_output=True)
    (uninterrupted_file,) = other.glob("train-features-*.pt")
    assert uninterrupted_file.name == finished.name  # the same entry: same images, angles and weights
    uninterrupted = torch.load(uninterrupted_file, weights_only=True)
    assert torch.equal(resumed[:n_kept], kept + 1000.0)
    torch.testing.assert_close(resumed[n_kept:], uninterrupted[n_kept:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(kept, uninterrupted[:n_kept], rtol=1e-5, atol=1e-6)


def test_two_kill_resume_cycles_leave_one_checkpoint_and_one_link(tmp_path, processes):
    """Each resume of a paper-flow run used to keep the previous attempt's checkpoint (2.1 GB) and
    add a ``last-vN.ckpt`` link; after any number of kills the run keeps its newest checkpoint and
    one ``last.ckpt`` pointing at it."""
    root = make_tree(tmp_path / "data", n_train=40)
    run_dir = tmp_path / "run"
    ckpts = run_dir / "checkpoints"
    every_pass = ["callbacks.model_checkpoint.every_n_epochs=1"]
    for cycle in range(2):
        before = {p.resolve() for p in ckpts.glob("*.ckpt")}
        proc = processes.start(command(root, run_dir, 40, every_pass))
        deadline = time.monotonic() + 180
        # kill once this attempt has written a checkpoint of its own
        while proc.poll() is None and time.monotonic() < deadline:
            now = {p.resolve() for p in ckpts.glob("epoch*.ckpt")}
            if now - before:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"cycle {cycle}: the run ended before it could be killed"
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(command(root, run_dir, 40, every_pass), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 40 and metrics["fit_from_epoch"] > 0
    files = sorted(p.name for p in ckpts.iterdir())
    regular = [p for p in ckpts.iterdir() if not p.is_symlink()]
    assert len(regular) == 1 and files == sorted(["last.ckpt", regular[0].name]), files
    assert (ckpts / "last.ckpt").resolve() == regular[0].resolve()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR2], ids=["SIGTERM", "SIGUSR2"])
def test_sigterm_saves_a_checkpoint_says_so_and_exits_non_zero(tmp_path, processes, sig):
    """What SLURM sends on scancel, preemption and the time limit (SIGUSR2: submitit's warning
    before it): Lightning used to end such a run with status 0 (or ignore SIGUSR2) and keep
    nothing since the last meta-epoch."""
    root = make_tree(tmp_path / "data", n_train=40)
    run_dir = tmp_path / "run"
    # no checkpoint in the first passes but the signal's; the bar shows the pass reached
    every_8 = ["callbacks.model_checkpoint.every_n_epochs=8", "trainer.enable_progress_bar=true"]
    proc = processes.start(command(root, run_dir, 60, every_8))
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline and "Epoch 3" not in proc.log.read_text():
        time.sleep(0.05)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 143
    (said,) = [ln for ln in proc.log.read_text().splitlines() if ln.startswith("error: ")]  # (the bar redraws after it)
    assert said.startswith(f"error: stopped by {sig.name} after ") and "the same command" in said, said
    (saved,) = (run_dir / "checkpoints").glob("interrupted-*.ckpt")
    assert (run_dir / "checkpoints" / "last.ckpt").resolve() == saved.resolve()
    done = subprocess.run(command(root, run_dir, 60, every_8), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 60 and metrics["fit_from_epoch"] >= 3  # resumed from the signal's checkpoint


def test_a_signal_while_testing_keeps_the_fitted_bank_and_the_same_command_tests_it(tmp_path, processes):
    """A large patch bank spends most of its run in the test stage (Magnetic Tile, 597k patches:
    30 min), where a preemption lands. The fitted bank's checkpoint is kept and named, and the
    same command goes straight to the test instead of fitting again. (It used to say "stopped
    before the first step": a fitted head takes no optimiser step.)"""
    root = make_tree(tmp_path / "data", n_good=150, n_bad=150)
    run_dir = tmp_path / "run"
    cmd = [*command(root, run_dir, 1)[:8], "model=patchcore", "model.features.grid=8", "data.test_batch_size=1"]
    cmd += ["trainer.enable_progress_bar=true", "figures.enabled=false", f"hydra.run.dir={run_dir}"]
    proc = processes.start(cmd)
    deadline = time.monotonic() + 180
    testing = "Testing DataLoader 0:  1"  # a tenth of the test images scored
    while proc.poll() is None and time.monotonic() < deadline and testing not in proc.log.read_text():
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    (said,) = [ln for ln in proc.log.read_text().splitlines() if "error: " in ln]  # a line of its own
    assert said.startswith("error: stopped by SIGTERM after 1 complete pass(es)") and "the same command" in said, said
    assert not (run_dir / "metrics.json").exists()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["fit_from_epoch"] == 1 and metrics["n_test_good"] == 150  # tested, not fitted again
