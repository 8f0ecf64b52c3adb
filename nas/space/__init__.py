"""Declarative architectures and search spaces. Pure Python: never imports torch."""

from nas._core import ConfigError

from .choices import RandomChooser
from .io import load_spec, save_spec, spec_to_yaml
from .mixers import MIXERS, MixerInfo
from .space import Prune, SearchSpace, SpaceSize, list_spaces, load_space, parse_space, spaces_dir
from .spec import ArchSpec, HeadSpec, StageSpec, StemSpec, check_resolution

__all__ = [
    "MIXERS",
    "ArchSpec",
    "ConfigError",
    "HeadSpec",
    "MixerInfo",
    "Prune",
    "RandomChooser",
    "SearchSpace",
    "SpaceSize",
    "StageSpec",
    "StemSpec",
    "check_resolution",
    "list_spaces",
    "load_space",
    "load_spec",
    "parse_space",
    "save_spec",
    "spaces_dir",
    "spec_to_yaml",
]
