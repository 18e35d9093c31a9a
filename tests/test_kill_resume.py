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
        "model.hidden=64",
        "figures.enabled=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


# the stabilisers add state a resume must restore: the averaged weights beside the raw ones, and
# the learning-rate schedule's position
STABILISED = ("callbacks=stabilised", "callbacks.ema.decay=0.9", "model.lr_schedule=cosine")


@pytest.mark.parametrize("extra", [(), STABILISED], ids=["reference", "stabilised"])
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
