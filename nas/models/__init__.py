"""ArchSpec -> nn.Module, the seed presets, and their timm registration (`nas_` prefix)."""

from . import timm_registry  # noqa: F401  (registers the presets with timm)
from .builder import build_model, resolve_spec
from .net import NasNet
from .presets import BASE_PRESETS, PRESETS, VARIANTS, get_preset

__all__ = [
    "BASE_PRESETS",
    "PRESETS",
    "VARIANTS",
    "NasNet",
    "build_model",
    "get_preset",
    "resolve_spec",
]
