"""The inspection line scores any number of images in bounded memory and keeps what it scored:
the edge runtime reads, scores and prints a batch at a time (its peak RSS does not grow with the
number of inputs), and ``dsn-predict`` writes each CSV row as it is done (a crash keeps them)."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, preset
from PIL import Image

from dsn.lit.modules import module_for

SIZE = 64


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A random-weight DifferSqueezeNet checkpoint at 64 px with 2 test views, and its ONNX export."""
    from dsn.export import export

    torch.manual_seed(0)
    module = module_for(preset(weights="none", n_blocks=2, hidden=16, test_views=2, image_size=SIZE))
    folder = tmp_path_factory.mktemp("model")
    ckpt = folder / "small.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "epoch": 1}, ckpt)
    export(str(ckpt), str(folder / "m.onnx"))
    return ckpt, folder / "m.onnx"


@pytest.fixture(scope="module")
def many_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2000):
        p = folder / f"{i:04d}.png"
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


# runs the edge runtime as `python -m dsn.deploy.edge ...` would, then prints its own peak RSS (kB)
EDGE_WITH_PEAK = (
    "import resource, runpy, sys\n"
    "sys.argv = ['edge', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('dsn.deploy.edge', run_name='__main__')\n"
    "finally:\n"
    "    print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def edge(onnx, paths):
    out = subprocess.run(
        [sys.executable, "-c", EDGE_WITH_PEAK, str(onnx), *paths, "--threads", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    peak_kb = int(out.stderr.split("peak_rss_kb")[-1].split()[0])
    header, *rows = out.stdout.splitlines()
    assert header == "path,score,normalized_score,verdict,error"
    return rows, peak_kb / 1024


def test_edge_memory_does_not_grow_with_the_number_of_images(small_model, many_images):
    _, onnx = small_model
    few_rows, few_mb = edge(onnx, many_images[:100])
    rows, peak_mb = edge(onnx, many_images)
    assert len(rows) == 2000 and rows[:100] == few_rows  # in order, the same scores
    # the old runtime stacked every image into one run: +~1.5 GB for 2,000 images of this size
    assert peak_mb - few_mb < 60, (few_mb, peak_mb)


def test_predict_keeps_the_rows_it_scored_when_it_crashes(tmp_path, small_model, many_images, monkeypatch):
    import dsn.predict
    import dsn.run.predicting

    ckpt, _ = small_model
    real, seen = dsn.run.predicting.open_rgb, []

    def load_then_crash(path, *args):
        seen.append(path)
        if len(seen) == 21:
            raise MemoryError("the machine ran out of memory")  # not an image's fault: the run dies
        return real(path, *args)

    monkeypatch.setattr(dsn.run.predicting, "open_rgb", load_then_crash)
    out = tmp_path / "p.csv"
    with pytest.raises(MemoryError):
        dsn.predict.predict(str(ckpt), many_images[:40], str(out), batch=8)
    rows = list(csv.DictReader(out.open()))
    assert [r["path"] for r in rows] == many_images[:16]  # the two batches done before the crash
    assert all(r["verdict"] != "error" and float(r["score"]) > 0 for r in rows)
