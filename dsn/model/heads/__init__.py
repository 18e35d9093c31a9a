"""The head registry: ``model.head.kind`` -> head class.

Every module in this folder is imported on the first lookup, and each :class:`Head` subclass
with a ``kind`` registers itself (:mod:`.base`): adding a head is adding one file here, and no
head's name is written anywhere else in the model, engine or commands.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Mapping

from dsn.model.extractors import FeatureLayout
from dsn.model.heads.base import REGISTERED, FittedHead, GradientHead, Head
from dsn.model.settings import check_keys

__all__ = [
    "FittedHead",
    "GradientHead",
    "Head",
    "build_head",
    "check_head",
    "check_head_settings",
    "check_head_types",
    "head_class",
    "head_kinds",
    "with_tiny",
]


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def head_kinds() -> list[str]:
    _load_all()
    return sorted(REGISTERED)


def head_class(kind: str) -> type[Head]:
    if kind not in REGISTERED:
        _load_all()
    if kind not in REGISTERED:
        raise ValueError(f"model.head.kind must be one of {sorted(REGISTERED)}, got {kind!r}")
    return REGISTERED[kind]


def check_head_settings(settings: Mapping) -> type[Head]:
    """The class of ``model.head`` after checking that its keys are exactly that head's settings."""
    cls = head_class(settings.get("kind"))
    check_keys("model.head", set(settings) - {"kind"}, cls.settings(), cls.kind)
    return cls


WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false", "None": "null"}


def _type_ok(value, annotation: str) -> bool:
    """Whether ``value`` fits a head setting's annotation (``int``, ``float``, ``str``, ``bool``,
    ``None`` and unions of them, as the head files write them)."""
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "None": lambda v: v is None,
    }
    kinds = [a.strip() for a in str(annotation).split("|")]
    return any(checks.get(k, lambda v: True)(value) for k in kinds)


def check_head_types(cls: type[Head], settings: Mapping) -> None:
    """Each ``model.head`` value of the type ``cls``'s signature gives (before any image is read;
    ranges are checked by the head when it is built)."""
    params = inspect.signature(cls.__init__).parameters
    for key, value in settings.items():
        if key != "kind" and not _type_ok(value, params[key].annotation):
            wanted = " or ".join(WORDS.get(a.strip(), a.strip()) for a in str(params[key].annotation).split("|"))
            raise ValueError(f"model.head.{key} must be {wanted}, got {value!r}")


def check_head(settings: Mapping) -> type[Head]:
    """``model.head`` checked before any image is read: its keys, their types, and their values
    (the head is built on a small stand-in layout, so its own checks run in milliseconds)."""
    cls = check_head_settings(settings)
    check_head_types(cls, settings)
    cls(PROBE_LAYOUT, 0, **{k: v for k, v in settings.items() if k != "kind"})
    return cls


PROBE_LAYOUT = FeatureLayout(rows=1, width=8)


def build_head(settings: Mapping, layout: FeatureLayout, seed: int) -> Head:
    cls = check_head_settings(settings)
    return cls(layout, seed, **{k: v for k, v in settings.items() if k != "kind"})


def with_tiny(settings: Mapping) -> dict:
    """``model.head`` with its head's ``tiny`` settings put over it (``model.tiny=true``)."""
    return {**settings, **head_class(settings.get("kind")).tiny}
