"""What a run prints: it ends with one line saying what it found (image AUROC, pixel metrics
where computed, the threshold, passes, wall time and the figures' share of it, peak memory) and
where ``metrics.json`` is; the same line is in the run's ``train.log``; third-party notices that
do not apply to dsn (Lightning's srun hint, its eval-mode warning for the frozen backbone, its
cloud tips, its own deprecation) are not shown."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import DEBUG, REPO

from dsn.lit.quiet import NOTICES, TIP


def test_a_run_ends_with_what_it_found_and_shows_no_notices_that_do_not_apply(tmp_path, toy_root):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "dsn.train", *DEBUG, f"data.root={toy_root}", "data.val_fraction=0.34"]
    out = subprocess.run([*cmd, f"hydra.run.dir={run_dir}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    last = out.stdout.strip().splitlines()[-1]
    assert f"toy differsqueezenet seed 0: image AUROC {100 * metrics['auroc']:.1f}" in last, last
    assert f"threshold {metrics['threshold']:.4g}" in last and f"pixel AUROC {100 * metrics['pixel_auroc']:.1f}" in last
    assert (
        f"{metrics['epochs']} passes, {metrics['wall_time_s']:.0f} s (figures " in last
        and "peak" in last
        and last.endswith(str(run_dir / "metrics.json"))
    )
    assert last.split(" - ", 1)[1] in Path(run_dir / "train.log").read_text()
    shown = out.stdout + out.stderr
    for text in (*NOTICES, TIP):
        assert text.replace("\\", "") not in shown, text
    assert "srun" not in shown and "eval mode" not in shown and "LeafSpec" not in shown


def test_make_train_passes_args_through(tmp_path, toy_root):
    """``make train ARGS="..."`` (the same for sweep, test, test-slow): settings reach dsn-train."""
    args = f"debug=default data.image_size=32 data.batch_size=3 paths.log_dir={tmp_path} seed=3"
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # not a sub-make
    out = subprocess.run(
        ["make", "--no-print-directory", "train", f"DATA={toy_root}", "CATEGORY=toy", "WEIGHTS=none", f"ARGS={args}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "toy differsqueezenet seed 3: image AUROC" in out.stdout.strip().splitlines()[-1]
    (metrics,) = tmp_path.glob("debug/runs/*/metrics.json")
    assert json.loads(metrics.read_text())["seed"] == 3


def test_an_input_too_small_for_the_backbone_is_one_line(tmp_path, toy_root):
    """AlexNet's whole block needs 64 px at the smallest of 3 scales: at 128 px the run stops
    with one line naming the settings to change (it used to end in a traceback)."""
    cmd = [sys.executable, "-m", "dsn.train", *DEBUG, f"data.root={toy_root}", "model=knn", "model/features=alexnet"]
    out = subprocess.run(
        [*cmd, "data.image_size=128", f"hydra.run.dir={tmp_path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.strip().splitlines()[-1] == (
        "error: a 32x32 px input (scale 2 of 3) is too small for this backbone: raise data.image_size or lower "
        "model.features.n_scales"
    )


def test_a_plain_run_stores_a_decision_threshold_by_default(tmp_path, toy_root):
    """No threshold setting given (not debug, which trains on every image): a seeded 10% of
    train/good is held out and the threshold is stored, for dsn-predict and the exported model."""
    small = ["weights=none", "data.image_size=32", "data.batch_size=3", "model.tiny=true", "trainer.max_epochs=1"]
    small += [
        "feature_cache.bank_views=2",
        "model.views.train_views=2",
        "model.views.test_views=2",
        "figures.enabled=false",
        "logger=csv",
    ]
    cmd = [sys.executable, "-m", "dsn.train", f"data.root={toy_root}", "data.category=toy", *small]
    out = subprocess.run([*cmd, f"hydra.run.dir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n_val_good"] == 1 and metrics["threshold"] is not None  # 10% of 6, at least one
    assert metrics["identity"]["data.val_fraction"] == 0.1
    assert f"threshold {metrics['threshold']:.4g}" in out.stdout.strip().splitlines()[-1]


def test_the_fit_estimate_counts_passes_only_for_heads_trained_over_several(tmp_path, toy_root):
    """A gradient-trained head prints its estimate after the first pass; a fitted head, which
    stops after its one pass whatever trainer.max_epochs says, prints none."""
    cmd = [sys.executable, "-m", "dsn.train", *DEBUG, f"data.root={toy_root}", "trainer.max_epochs=3"]
    for model, wanted in (("differsqueezenet", True), ("patchcore", False)):
        run = [*cmd, f"model={model}", f"hydra.run.dir={tmp_path / model}"]
        out = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        estimate = [line for line in out.stdout.splitlines() if "estimate:" in line]
        assert bool(estimate) is wanted, estimate
        if wanted:
            assert "for the 2 passes left" in estimate[0]
