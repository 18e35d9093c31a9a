"""Infrastructure faults end a command with one line that names the file or setting and what to
do, never a traceback: a weights file that is not the backbone's, a full disk, the file-size
limit. (An unreachable study database: tests/test_sweep_outages.py.) ``DSN_TRACEBACK=1`` keeps
the traceback."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import uuid

import pytest
import torch
import torchvision
from conftest import REPO, make_tree

RUN = ["debug=default", "data.category=toy", "data.image_size=32", "data.batch_size=3", "figures.enabled=false"]


def dsn_train(root, run_dir, *extra, env=None, preexec_fn=None):
    cmd = [sys.executable, "-m", "dsn.train", *RUN, f"data.root={root}", f"hydra.run.dir={run_dir}", *extra]
    return subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env or os.environ, preexec_fn=preexec_fn
    )


def one_line_error(out: subprocess.CompletedProcess) -> str:
    """The command failed with one ``error:`` line last and no traceback; returns that line."""
    assert out.returncode == 1, (out.returncode, out.stderr[-3000:])
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), out.stderr[-3000:]
    return last


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("data"))


def weights_files(folder):
    """A truncated, a garbage and a wrong-architecture weights file for SqueezeNet 1.1."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "squeezenet.pth"
    torch.save(torchvision.models.squeezenet1_1().state_dict(), good)
    truncated = folder / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    garbage = folder / "garbage.pth"
    garbage.write_bytes(os.urandom(4096))
    alexnet = folder / "alexnet.pth"
    torch.save(torchvision.models.alexnet().state_dict(), alexnet)
    return {"truncated": truncated, "garbage": garbage, "alexnet": alexnet}


def test_a_bad_weights_file_is_one_line_naming_it(tmp_path, root):
    from dsn.model.backbones import WeightsFileError, build_backbone

    files = weights_files(tmp_path / "weights")
    for kind, path in files.items():  # each kind is refused with a message naming the file and the setting
        with pytest.raises(WeightsFileError, match=rf"weights file {path}.*model\.features\.weights") as err:
            build_backbone("squeezenet1_1", 128, str(path))
        assert "\n" not in str(err.value), kind
    # and the command says it in one line (a traceback on request)
    line = one_line_error(dsn_train(root, tmp_path / "run", f"model.features.weights={files['truncated']}"))
    assert f"weights file {files['truncated']}" in line and "model.features.weights" in line, line
    env = {**os.environ, "DSN_TRACEBACK": "1"}
    out = dsn_train(root, tmp_path / "tb", f"model.features.weights={files['garbage']}", env=env)
    assert out.returncode != 0 and "Traceback" in out.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB file system (tmpfs, mounted as root), unmounted at the end whatever happened."""
    mnt = tmp_path / "small_disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root and mount(8) for a small tmpfs")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", f"dsn{uuid.uuid4().hex[:6]}", str(mnt)])
    if made.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_a_full_disk_is_one_line_with_the_file_and_the_size(tmp_path, root, small_disk):
    run_dir = small_disk / "run"
    line = one_line_error(dsn_train(root, run_dir))  # the checkpoint (the backbone: ~5 MB) does not fit
    assert line.startswith("error: no space left on device: writing ") and str(run_dir) in line, line
    assert " MB" in line and "free" in line, line
    assert not [p for p in run_dir.rglob(".*.tmp*")]  # no half-written file is left to fill the disk


def test_the_file_size_limit_is_one_line(tmp_path, root):
    limit = 512 * 1024  # below the checkpoint (the backbone up to its tap: ~1.1 MB)

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    line = one_line_error(dsn_train(root, tmp_path / "run", preexec_fn=cap))
    assert line.startswith("error: file size limit: writing ") and "ulimit -f" in line, line


def test_a_saved_config_is_whole_or_absent(tmp_path, root):
    """Under a file-size limit smaller than Hydra's saved config, ``.hydra/hydra.yaml`` used to be
    left truncated (and the run ended in a traceback)."""
    limit = 3000  # above config.yaml (~2.2 kB) and overrides.yaml, below hydra.yaml (~4 kB)

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    line = one_line_error(dsn_train(root, tmp_path / "run", preexec_fn=cap))
    saved = tmp_path / "run" / ".hydra"
    assert line.startswith(f"error: file size limit: writing {saved / 'hydra.yaml'}"), line
    assert not (saved / "hydra.yaml").exists() and not list(saved.glob(".*.tmp*"))
    assert (saved / "config.yaml").stat().st_size < limit
