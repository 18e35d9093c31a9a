"""``experiment=backbone_comparison`` as one command, offline, at debug scale: a job that fails or
cannot get its weights says so in one line and the others go on, and the end gives a summary (and
the exit status). Every model of it running offline from one weights folder: tests/test_readme.py."""

import os
import subprocess
import sys

from conftest import REPO, SHARED, make_tree

OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # no download gets through


def comparison(tmp_path, *args):
    root = make_tree(tmp_path / "data")
    cmd = [sys.executable, "-m", "dsn.train", "-m", "experiment=backbone_comparison", "debug=comparison"]
    cmd += [f"data.root={root}", "data.category=toy", "seed=0", "figures.enabled=false", f"paths.log_dir={tmp_path}"]
    env = {**os.environ, **OFFLINE}
    return subprocess.run([*cmd, *args], cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


def test_a_failed_job_and_a_model_without_weights_are_told_and_the_rest_go_on(tmp_path):
    no_mobilenet = tmp_path / "weights"
    no_mobilenet.mkdir()
    for name in ("squeezenet1_1_imagenet.pth", "alexnet_features_imagenet.pth"):
        (no_mobilenet / name).symlink_to(SHARED / "weights" / name)
    done = comparison(
        tmp_path,
        'hydra.sweeper.params.model="knn,knn_alexnet,differmobilenet"',
        f"weights={no_mobilenet}",
        "model.features.n_scales=5",  # 256 px / 16 = 16 px at the 5th scale: too small for AlexNet's block
    )
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error in job")]
    assert len(errors) == 2 and "Traceback" not in done.stderr
    assert (
        errors[0].startswith("error in job 1 (model=knn_alexnet, seed=0, data.category=toy): a ")
        and "too small" in errors[0]
    )
    assert errors[1].startswith(
        "error in job 2 (model=differmobilenet, seed=0, data.category=toy): no weights for backbone"
    )
    summary = done.stderr[done.stderr.index("multirun: ") :].splitlines()
    assert summary[0].startswith("multirun: 1 finished, 1 failed, 1 skipped in ")
    assert summary[1].startswith("  skipped 2: WeightsUnavailable: no weights for backbone 'mobilenet_v3_small'")
    assert summary[2].startswith("  failed 1: InputTooSmall: ")
