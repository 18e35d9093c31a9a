"""Helpers of the fault tests (test_faults_runs.py, test_faults_inputs.py): a tiny debug
training config, the commands run as a user runs them, and a decompression bomb's header."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

from conftest import DEBUG as TOY_DEBUG
from conftest import REPO, compose

DEBUG = [*TOY_DEBUG, "figures.enabled=false"]


def train_cfg(tmp_path, root, *extra, out="run"):
    return compose("train", DEBUG + [f"data.root={root}", *extra], tmp_path / out)


def cli(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def huge_png(path: Path, side: int = 20000) -> Path:
    """A tiny file whose header claims ``side`` x ``side`` px (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
    return path
