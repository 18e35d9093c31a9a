"""ONNX export: the whole scorer in one graph; onnxruntime scores real images as PyTorch does."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import preset

from dsn.export import export
from dsn.lit.modules import module_for
from dsn.model.views import fixed_angles


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory, squeezenet_weights):
    torch.manual_seed(0)
    module = module_for(preset(weights=str(squeezenet_weights), n_blocks=2, hidden=64, test_views=4))
    for p in module.model.head.parameters():
        torch.nn.init.normal_(p, std=0.02)
    path = tmp_path_factory.mktemp("ckpt") / "small.ckpt"
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "epoch": 3}, path)
    return path, module


def test_onnx_scores_match_pytorch_on_real_bottles(tmp_path, small_checkpoint, mvtec_root):
    from dsn.data.images import load_image
    from dsn.deploy.edge import EdgeScorer

    ckpt, module = small_checkpoint
    export(str(ckpt), str(tmp_path / "m.onnx"))
    files = (
        sorted((mvtec_root / "bottle" / "test" / "good").glob("*.png"))[:2]
        + sorted((mvtec_root / "bottle" / "test" / "broken_large").glob("*.png"))[:2]
    )
    onnx_scores = EdgeScorer(tmp_path / "m.onnx").score_files(files)
    images = torch.stack([load_image(f, 448) for f in files])
    with torch.no_grad():
        torch_scores = module.model.score(images, fixed_angles(4).expand(4, 4)).numpy()
    np.testing.assert_allclose(onnx_scores, torch_scores, rtol=1e-4)


def test_edge_inference_needs_no_torch(tmp_path, small_checkpoint):
    code = "import sys, dsn.deploy.edge; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
