"""Nothing silently wrong, nothing lost, cases 1-4 and 8-10: run directories, checkpoints, config, weights, wall time.

The whole fault list, one test per case (numbers in the names), each failing on the code
before the fix: a wrong image size in dsn-eval (1), two runs in one directory (2), a kill that
leaves last.ckpt dangling or a checkpoint damaged (3, 4), a changed config on a finished run
(4), oversized images (5), same-named heat maps and unusable inputs (6), an unwritable or
over-full cache (7), late and stale config errors (8), an unreachable weights download (9), the
run's wall time and duplicated checkpoints (10)."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, compose
from fault_helpers import DEBUG, cli, train_cfg
from omegaconf import OmegaConf

# ---- dsn-eval scores at the checkpoint's image size ------------------------------------------


def test_eval_takes_the_image_size_from_the_checkpoint(tmp_path, toy_root):
    from dsn.config.config_checks import ConfigError
    from dsn.evaluate import evaluate
    from dsn.train import train

    metrics = train(train_cfg(tmp_path, toy_root))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ev = evaluate(
        compose(
            "eval",
            [
                f"data.root={toy_root}",
                "data.category=toy",
                f"ckpt_path={ckpt}",
                "trainer.accelerator=cpu",
                "figures.enabled=false",
            ],
            tmp_path / "eval",
        )
    )
    assert ev["scores"] == pytest.approx(metrics["scores"], rel=1e-5)  # 32 px, as trained (not 448)
    with pytest.raises(ConfigError, match=r"data.image_size=64, but checkpoint .* trained at 32 px"):
        evaluate(
            compose(
                "eval",
                [
                    f"data.root={toy_root}",
                    "data.category=toy",
                    f"ckpt_path={ckpt}",
                    "data.image_size=64",
                    "figures.enabled=false",
                ],
                tmp_path / "eval64",
            )
        )


# ---- one run directory, one owner ------------------------------------------------------------


def test_a_second_run_into_a_busy_directory_stops_naming_the_owner(tmp_path, toy_root):
    from dsn.run.run_dir import run_dir_lock

    run_dir = tmp_path / "run"
    args = ["dsn.train", *DEBUG, f"data.root={toy_root}", f"hydra.run.dir={run_dir}"]
    with run_dir_lock(run_dir):  # as a running dsn-train holds it
        out = cli(*args)
    assert out.returncode == 1
    assert f"error: run directory {run_dir} is in use by PID {os.getpid()}" in out.stderr
    assert "Traceback" not in out.stderr and not (run_dir / "metrics.json").exists()


def test_a_killed_owners_lock_is_taken_over(tmp_path):
    from dsn.run.run_dir import run_dir_lock

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dsn.run.run_dir import run_dir_lock\n"
            f"with run_dir_lock({str(tmp_path)!r}):\n print('locked', flush=True); time.sleep(60)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Exception, match="in use by PID"):
            with run_dir_lock(tmp_path):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with run_dir_lock(tmp_path):  # the kernel released the dead owner's lock
        assert f"PID {os.getpid()}" in (tmp_path / ".dsn.lock").read_text()


# ---- resume never silently restarts ----------------------------------------------------


def two_checkpoints(tmp_path, root):
    """A finished 2-pass run that kept both epoch files (last.ckpt -> epoch001.ckpt)."""
    from dsn.train import train

    train(train_cfg(tmp_path, root, "callbacks.model_checkpoint.save_top_k=-1"))
    ckpts = tmp_path / "run" / "checkpoints"
    assert os.readlink(ckpts / "last.ckpt").endswith("epoch001.ckpt") and (ckpts / "epoch000.ckpt").is_file()
    return ckpts


def test_a_dangling_last_ckpt_resumes_from_the_newest_epoch_file(tmp_path, toy_root):
    from dsn.train import train

    ckpts = two_checkpoints(tmp_path, toy_root)
    (ckpts / "epoch001.ckpt").unlink()  # a kill after Lightning deleted it, before it re-pointed last.ckpt
    (ckpts / ".epoch002.ckpt.tmp4242").write_bytes(b"half a checkpoint")  # a kill during a write
    metrics = train(train_cfg(tmp_path, toy_root, "trainer.max_epochs=3"))
    assert metrics["fit_from_epoch"] == 1 and metrics["epochs"] == 3  # resumed, not restarted from 0
    assert not list(ckpts.glob(".*.tmp*"))


def test_a_damaged_newest_checkpoint_is_skipped_with_its_name(tmp_path, toy_root):
    from dsn.train import train

    ckpts = two_checkpoints(tmp_path, toy_root)
    newest = ckpts / "epoch001.ckpt"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    with pytest.warns(UserWarning, match=f"checkpoint {re.escape(str(newest))} cannot be read"):
        metrics = train(train_cfg(tmp_path, toy_root, "trainer.max_epochs=3"))
    assert metrics["fit_from_epoch"] == 1


def test_a_changed_config_on_a_finished_run_stops_and_keeps_its_config(tmp_path, toy_root):
    run_dir = tmp_path / "run"
    base = ["dsn.train", *DEBUG, f"data.root={toy_root}", f"hydra.run.dir={run_dir}"]
    assert cli(*base).returncode == 0
    config = (run_dir / ".hydra" / "config.yaml").read_text()
    out = cli(*base, "model.head.hidden=16", "model.head.n_blocks=1")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    error = out.stderr.strip().splitlines()[-1]
    assert re.search(
        r"was trained with model.head.hidden=32, model.head.n_blocks=2, this config asks for model.head.hidden=16, "
        r"model.head.n_blocks=1: .*hydra.run.dir=.*resume=false",
        error,
    )
    assert (run_dir / ".hydra" / "config.yaml").read_text() == config  # the finished run's config is kept


# ---- config errors come first, one line, with real keys -----------------------------------------


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.head.hidden=abc", "model.head.hidden must be an integer, got 'abc'"),
        ("feature_cache.bank_views=1", "feature_cache.bank_views=1 must be at least model.views.train_views=2"),
        ("model.views.brightness=1.5", "model.views.brightness must be a number in [0.0, 1.0], got 1.5"),
        (
            "model.features.n_features=100",
            "model.features.n_features must be a width backbone 'squeezenet1_1' can be tapped at",
        ),
        ("data.val_fraction=1.5", "data.val_fraction must be a number in [0.0, 1.0), got 1.5"),
    ],
)
def test_config_errors_come_before_any_image_is_read(tmp_path, override, message):
    from dsn.config.config_checks import ConfigError
    from dsn.train import train

    cfg = train_cfg(tmp_path, tmp_path / "no_data_here", override)  # reading images would fail differently
    with pytest.raises(ConfigError, match=re.escape(message)):
        train(cfg)


def test_config_error_is_one_line_on_the_command_line(tmp_path, toy_root):
    out = cli("dsn.train", *DEBUG, f"data.root={toy_root}", "model.head.hidden=abc", f"hydra.run.dir={tmp_path / 'r'}")
    assert out.returncode == 1
    assert out.stderr.strip() == "error: model.head.hidden must be an integer, got 'abc'"


KEY = re.compile(
    r"\b((?:model|data|trainer|feature_cache|figures|threshold|paths|logger|callbacks|optimizer|"
    r"hydra\.sweeper|hydra\.launcher|hydra\.run)\.[a-z_]+(?:\.[a-z_]+)*)"
)


def message_strings(path: Path) -> list[str]:
    """The text of every raised error and warning in a source file (f-string parts included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        call = node.exc if isinstance(node, ast.Raise) else node if isinstance(node, ast.Call) else None
        if call is None or (
            isinstance(node, ast.Call)
            and not (isinstance(node.func, ast.Attribute) and node.func.attr in ("warn", "warning", "error"))
        ):
            continue
        out += [n.value for n in ast.walk(call) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out


def test_every_key_named_in_a_message_exists(tmp_path):
    cfg = compose("train", ["hparams_search=paper_random"], tmp_path)
    cfg_eval = compose("eval", [], tmp_path / "e")
    presets = sorted(p.stem for p in (REPO / "conf" / "model").glob("*.yaml"))  # every head's settings
    others = [compose("train", [f"model={m}"], tmp_path / m) for m in presets]
    others.append(compose("train", ["callbacks=stabilised"], tmp_path / "stabilised"))
    files = list((REPO / "dsn").rglob("*.py")) + list((REPO / "hydra_plugins").rglob("*.py"))
    named = {m for f in files for s in message_strings(f) for m in KEY.findall(s)}
    assert {"model.optimizer.lr", "feature_cache.bank_views", "data.max_pixels"} <= named  # the scan finds messages
    missing = sorted(
        k
        for k in named
        if all(OmegaConf.select(c, k, default="<absent>") == "<absent>" for c in [cfg, cfg_eval, *others])
    )
    assert not missing, f"messages name keys that do not exist: {missing}"


# ---- a failed weights download says what to do -------------------------------------------------


def test_unreachable_weights_download_names_the_fix(tmp_path, monkeypatch):
    from dsn.model.backbones import WeightsUnavailable, build_backbone

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing cached
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # a real connection attempt, refused at once
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(
        WeightsUnavailable,
        match=r"backbone 'squeezenet1_1' could not be downloaded .*"
        r"model.features.weights=<local state-dict file>",
    ):
        build_backbone("squeezenet1_1", 128, "imagenet")


# ---- the whole run's wall time; one file per kept checkpoint ----------------------------------


def test_wall_time_covers_the_figures_and_checkpoints_are_not_doubled(tmp_path, toy_root, monkeypatch):
    import dsn.run.score_and_report as tr
    from dsn.train import train

    real = tr.write_run_figures

    def slow_figures(*a, **kw):
        time.sleep(4)
        return real(*a, **kw)

    monkeypatch.setattr(tr, "write_run_figures", slow_figures)
    start = time.monotonic()
    metrics = train(train_cfg(tmp_path, toy_root, "figures.enabled=true", "data.val_fraction=0.2"))
    elapsed = time.monotonic() - start
    on_disk = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["fit_time_s"] + 4 <= on_disk["wall_time_s"] <= elapsed + 0.1
    ckpts = tmp_path / "run" / "checkpoints"
    files = [p for p in ckpts.iterdir() if p.is_file() and not p.is_symlink()]
    assert len(files) == 1 and (ckpts / "last.ckpt").is_symlink()  # the threshold went into the one file
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["state_dict"]["decision"][0] == metrics["threshold"]
