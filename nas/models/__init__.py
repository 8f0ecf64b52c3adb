"""ArchSpec -> nn.Module, the seed presets, and their timm registration (`nas_` prefix): the
presets, `nas_arch` (any spec, or a nas-train checkpoint's) and a study's Pareto members
(`register_study`)."""

from . import timm_registry  # noqa: F401  (registers the presets with timm)
from .builder import build_model, resolve_spec
from .net import NasNet
from .presets import BASE_PRESETS, PRESETS, VARIANTS, get_preset
from .timm_registry import register_study

__all__ = [
    "BASE_PRESETS",
    "PRESETS",
    "VARIANTS",
    "NasNet",
    "build_model",
    "get_preset",
    "register_study",
    "resolve_spec",
]
