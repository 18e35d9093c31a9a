"""Backbones: taps of the right width, frozen, and clear errors for bad widths and weight files."""

import pytest
import torch
from conftest import tiny_model

from dsn.model import build_backbone, valid_widths


@pytest.mark.parametrize("width", [64, 128, 256, 384, 512])
def test_squeezenet_taps_have_the_requested_width(width, squeezenet_weights):
    trunk = build_backbone("squeezenet1_1", width, str(squeezenet_weights))
    assert trunk(torch.zeros(1, 3, 112, 112)).shape[1] == width


@pytest.mark.parametrize("width", [64, 192, 384, 256])
def test_alexnet_taps_have_the_requested_width(width, alexnet_weights):
    trunk = build_backbone("alexnet", width, str(alexnet_weights))
    assert trunk(torch.zeros(1, 3, 112, 112)).shape[1] == width


def test_differsqueezenet_tap_is_features_5():
    assert len(build_backbone("squeezenet1_1", 128, "none")) == 5
    assert len(build_backbone("alexnet", 256, "none")) == 13  # all of AlexNet.features, as DifferNet


def test_unknown_width_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"valid widths: \[64, 128, 256, 384, 512\]"):
        build_backbone("squeezenet1_1", 100, "none")
    assert valid_widths("alexnet") == [64, 192, 256, 384]


def test_unknown_backbone_is_an_error():
    with pytest.raises(ValueError, match="unknown backbone 'resnet9'"):
        build_backbone("resnet9", 128, "none")


def test_local_weights_are_loaded(squeezenet_weights):
    state = torch.load(squeezenet_weights, weights_only=True)
    trunk = build_backbone("squeezenet1_1", 128, str(squeezenet_weights))
    torch.testing.assert_close(trunk[0].weight, state["features.0.weight"])


def test_backbone_is_frozen_in_eval_mode_even_when_training():
    model = tiny_model(n_blocks=1, hidden=8)
    model.train()
    assert not model.features.backbone.training
    assert all(not p.requires_grad for p in model.features.parameters())
    assert all(p.requires_grad for p in model.head.flow.parameters())


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.features.weights"):
        build_backbone("squeezenet1_1", 128, str(tmp_path / "nope.pth"))


def test_garbage_weights_file(tmp_path):
    f = tmp_path / "garbage.pth"
    f.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match="cannot be read as a tensor state dict"):
        build_backbone("squeezenet1_1", 128, str(f))


def test_weights_file_with_python_objects_is_refused(tmp_path):
    f = tmp_path / "pickled.pth"
    torch.save({"features.0.weight": torch.zeros(1), "extra": object()}, f)
    with pytest.raises(ValueError, match="cannot be read as a tensor state dict"):
        build_backbone("squeezenet1_1", 128, str(f))


def test_weights_of_another_backbone(alexnet_weights):
    with pytest.raises(ValueError, match="does not fit backbone 'squeezenet1_1'"):
        build_backbone("squeezenet1_1", 128, str(alexnet_weights))


def test_weights_with_wrong_shapes(tmp_path, squeezenet_weights):
    state = torch.load(squeezenet_weights, weights_only=True)
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    f = tmp_path / "shapes.pth"
    torch.save(state, f)
    with pytest.raises(ValueError, match=r"features.0.weight has shape \(32, 3, 3, 3\)"):
        build_backbone("squeezenet1_1", 128, str(f))


def test_weights_missing_needed_layers(tmp_path, squeezenet_weights):
    state = torch.load(squeezenet_weights, weights_only=True)
    del state["features.3.squeeze.weight"]
    f = tmp_path / "partial.pth"
    torch.save(state, f)
    with pytest.raises(ValueError, match="lacks 1 tensors"):
        build_backbone("squeezenet1_1", 128, str(f))


def test_features_only_file_loads_for_alexnet(alexnet_weights):
    # the offline AlexNet file has no classifier: loading it must not require one
    assert build_backbone("alexnet", 256, str(alexnet_weights))[0].weight.abs().sum() > 0


@pytest.mark.parametrize("width", [16, 24, 40, 48, 96, 576])
def test_mobilenet_taps_have_the_requested_width(width):
    trunk = build_backbone("mobilenet_v3_small", width, "none")
    assert trunk(torch.zeros(1, 3, 112, 112)).shape[1] == width
