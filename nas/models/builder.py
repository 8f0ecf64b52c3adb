"""spec, preset name or spec file -> NasNet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nas.space import ArchSpec, load_spec

from .net import NasNet
from .presets import get_preset


def resolve_spec(spec_or_name: ArchSpec | str | os.PathLike) -> ArchSpec:
    """An ArchSpec from itself, a preset name (`spach_ms_s_patch4_224_hybrid`, `nas_` prefix
    optional) or a path to a spec YAML."""
    if isinstance(spec_or_name, ArchSpec):
        return spec_or_name
    path = Path(spec_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_spec(path)
    return get_preset(str(spec_or_name))


def build_model(spec_or_name: ArchSpec | str | os.PathLike, **kwargs: Any) -> NasNet:
    """Build one architecture. kwargs: num_classes, in_chans, img_size, drop_rate,
    drop_path_rate, global_pool (as timm models take them)."""
    return NasNet(resolve_spec(spec_or_name), **kwargs)
