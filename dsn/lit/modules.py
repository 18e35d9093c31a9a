"""Which Lightning module trains a detector: one per training style of its head, chosen here
(the only place that maps a style to a module), and how a run's ``model`` settings become the
module's hyperparameters."""

from __future__ import annotations

from collections.abc import Mapping

from dsn.lit.detector_module import DetectorLightning
from dsn.lit.fitted_module import FittedLightning
from dsn.lit.gradient_module import GradientLightning
from dsn.model.heads import head_class, with_tiny

BY_STYLE: dict[str, type[DetectorLightning]] = {"gradient": GradientLightning, "fitted": FittedLightning}


def given_head_settings() -> set[str]:
    """The ``model.head`` settings this run's command line (or a sweep's trial) sets: they win
    over ``model.tiny``. Empty outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    return head_settings_in(HydraConfig.get().overrides.task) if HydraConfig.initialized() else set()


def head_settings_in(overrides) -> set[str]:
    """The ``model.head`` settings that Hydra overrides (``key=value`` strings) set."""
    keys = (o.split("=", 1)[0].lstrip("+~") for o in overrides)
    return {k[len("model.head.") :] for k in keys if k.startswith("model.head.")}


def effective_hparams(model: Mapping, given: set[str] = frozenset()) -> dict:
    """A run's resolved ``model`` node -> the hyperparameters its module records: with ``tiny``,
    the head's tiny settings put over the preset's, except those ``given`` on the command line
    (``tiny`` itself dropped); ``optimizer`` None for a fitted head (it has none)."""
    hp = dict(model)
    hp.pop("_target_", None)
    if hp.pop("tiny", False):
        tiny = with_tiny(hp["head"])
        hp["head"] = {**tiny, **{k: v for k, v in hp["head"].items() if k in given}}
    if head_class(hp["head"].get("kind")).training_style != "gradient":
        hp["optimizer"] = None
    return hp


def module_for(hp: Mapping) -> DetectorLightning:
    """The Lightning module of nested hyperparameters (:func:`effective_hparams`'s)."""
    return BY_STYLE[head_class(hp["head"].get("kind")).training_style](**hp)
