"""The README's quick start runs as written: each command of its block, in order, at debug scale
(the only change: ``debug=default``, or ``debug=comparison`` for the backbone comparison, and one
seed added to each ``dsn-train``, two trials to the sweep), with ``DATA`` a small tree holding a
``bottle`` category and ``WEIGHTS`` the shared folder."""

import json
import os
import re
import shlex
import shutil
import subprocess

import pytest
from conftest import REPO, SHARED, make_tree

README = (REPO / "README.md").read_text()
# the models conf/experiment/backbone_comparison.yaml lists: each must finish offline
MODELS = len(
    re.search(r"^\s+model: (.+)$", (REPO / "conf/experiment/backbone_comparison.yaml").read_text(), re.M)[1].split(",")
)


def digest(backbone: str, width: int, file: str) -> str:
    """The state digest a run records for the backbone read from the shared weights ``file``."""
    from dsn.model.extractors import build_features
    from dsn.utils.provenance import state_digest

    features = dict(kind="pooled", backbone=backbone, n_features=width, n_scales=3, scale_mode="nearest", chunk=1)
    return state_digest(build_features({**features, "weights": str(SHARED / "weights" / file)})[0])


SMALL = ["debug=default", "seed=0", "figures.enabled=false"]  # added to each dsn-train


def quick_start() -> list[str]:
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def test_the_readme_is_short_and_its_quick_start_has_at_most_ten_commands():
    assert len(README.splitlines()) <= 200
    assert len(quick_start()) <= 10


def test_the_quick_start_runs_as_written(tmp_path):
    if not (SHARED / "weights").is_dir():
        pytest.skip("the shared weights folder is not here")
    data = make_tree(tmp_path / "data", category="bottle", size=(64, 64))
    shutil.copytree(data / "bottle" / "test" / "scratch", data / "bottle" / "test" / "broken_large")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    for line in quick_start():
        words = shlex.split(line)
        if words[0] == "source":
            continue
        if words[0] == "export":  # the README's variables: here the small tree and the shared weights
            env.update(DATA=str(data), WEIGHTS=str(SHARED / "weights"))
            continue
        words = [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], w) for w in words]
        extra = SMALL if words[0] == "dsn-train" else []
        if "experiment=backbone_comparison" in words:  # AlexNet's block needs the larger debug input
            extra = ["debug=comparison", *extra[1:]]
        if any(w.startswith("hparams_search=") for w in words):
            extra = [*extra, "hydra.sweeper.n_trials=2"]
        done = subprocess.run([*words, *extra], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        if words[:2] == ["dsn-train", "experiment=recommended"]:
            assert "bottle differsqueezenet seed 0: image AUROC" in done.stdout.strip().splitlines()[-1]
        if "experiment=backbone_comparison" in words:  # every model it lists, offline from one folder
            assert f"multirun: {MODELS} finished, 0 failed, 0 skipped in " in done.stderr
    (sweep,) = (work / "logs" / "backbone_comparison" / "multiruns").iterdir()  # under the experiment's name
    runs = {m["model"]: m for m in (json.loads(f.read_text()) for f in sweep.glob("*/metrics.json"))}
    assert len(runs) == MODELS
    assert runs["differsqueezenet"]["weights_sha256"] == digest("squeezenet1_1", 128, "squeezenet1_1_imagenet.pth")
    assert runs["differnet"]["weights_sha256"] == digest("alexnet", 256, "alexnet_features_imagenet.pth")
    assert (work / "logs" / "report" / "report.html").is_file()
    assert len((work / "logs" / "predictions.csv").read_text().splitlines()) == 1 + 3
    assert (work / "logs" / "bottle" / "model.onnx").is_file() and (work / "logs" / "bottle" / "model.json").is_file()
