"""trainer=cpu_fast trains in bf16 only on hardware that does bf16 natively; runs record what they used."""

from pathlib import Path

import pytest
import torch
from conftest import DEBUG, compose

import dsn.lit.precision as precision
from dsn.config.instantiate import build_trainer
from dsn.train import train


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_cpu_fast_trains_in_bf16_only_where_the_cpu_has_it(tmp_path, monkeypatch, native, expected):
    # an AVX2-only CPU emulates bf16: the paper flow's step took 100 s there instead of seconds
    monkeypatch.setattr(precision, "native_bf16", lambda device_type="cpu": native)
    cfg = compose("train", ["trainer=cpu_fast"], tmp_path)
    assert build_trainer(cfg).precision == expected


def test_an_explicit_bf16_is_kept_with_a_warning_where_it_is_emulated(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device_type="cpu": False)
    cfg = compose("train", ["trainer=cpu", "trainer.precision=bf16-mixed"], tmp_path)
    expected = r"trainer.precision=bf16-mixed .* emulated .*trainer.precision=bf16-if-native"
    with pytest.warns(UserWarning, match=expected):
        trainer = build_trainer(cfg)
    assert trainer.precision == "bf16-mixed"


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_metrics_record_the_precision_the_run_used(tmp_path, toy_root, monkeypatch, native, expected):
    monkeypatch.setattr(precision, "native_bf16", lambda device_type="cpu": native)
    cfg = compose("train", DEBUG + [f"data.root={toy_root}", "trainer=cpu_fast", "trainer.accelerator=cpu"], tmp_path)
    assert train(cfg)["precision"] == expected


def test_native_bf16_agrees_with_the_cpus_own_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file() or "flags" not in cpuinfo.read_text():
        pytest.skip("no x86 /proc/cpuinfo flags on this machine")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert precision.native_bf16("cpu") == bool(flags & {"avx512_bf16", "amx_bf16"})


def test_auto_accelerator_resolves_to_the_device_torch_has():
    assert precision.device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert precision.device_type("gpu") == "cuda" and precision.device_type("cpu") == "cpu"
