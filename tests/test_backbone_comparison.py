"""``experiment=backbone_comparison`` as one command, offline, at debug scale: every model it
lists runs with one weights folder, a job that fails or cannot get its weights says so in one line
and the others go on, and the end gives a summary (and the exit status)."""

import json
import os
import subprocess
import sys

from conftest import REPO, SHARED, make_tree

from dsn.utils.provenance import state_digest

MODELS = 9  # conf/experiment/backbone_comparison.yaml
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # no download gets through


def comparison(tmp_path, *args):
    root = make_tree(tmp_path / "data")
    cmd = [sys.executable, "-m", "dsn.train", "-m", "experiment=backbone_comparison", "debug=comparison"]
    cmd += [f"data.root={root}", "data.category=toy", "seed=0", "figures.enabled=false", f"paths.log_dir={tmp_path}"]
    env = {**os.environ, **OFFLINE}
    return subprocess.run([*cmd, *args], cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


def test_every_model_runs_offline_from_one_weights_folder(tmp_path, squeezenet_weights, alexnet_weights):
    done = comparison(tmp_path, f"weights={squeezenet_weights.parent}")
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep,) = (tmp_path / "backbone_comparison" / "multiruns").iterdir()  # under the experiment's name
    assert f"multirun: {MODELS} finished, 0 failed, 0 skipped in {sweep}" in done.stderr
    runs = [json.loads(f.read_text()) for f in sweep.glob("*/metrics.json")]
    assert sorted(m["model"] for m in runs) == sorted(
        "differsqueezenet differnet differlite0 knn knn_alexnet knn_lite0 patchcore gaussian svdd".split()
    )
    from dsn.model.extractors import build_features

    def digest(backbone, width, file):
        features = dict(kind="pooled", backbone=backbone, n_features=width, n_scales=3, scale_mode="nearest", chunk=1)
        return state_digest(build_features({**features, "weights": str(file)})[0])

    by_model = {m["model"]: m for m in runs}
    assert by_model["differsqueezenet"]["weights_sha256"] == digest("squeezenet1_1", 128, squeezenet_weights)
    assert by_model["differnet"]["weights_sha256"] == digest("alexnet", 256, alexnet_weights)
    report = subprocess.run([sys.executable, "-m", "dsn.report", str(sweep), "--out", str(tmp_path / "r")], cwd=REPO)
    assert report.returncode == 0 and len((tmp_path / "r" / "report.csv").read_text().splitlines()) == 1 + MODELS


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
