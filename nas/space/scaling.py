"""Width-scaled copies of an architecture, for proxies that keep the token grids of the target
resolution at a fraction of its cost.

Scaling every width by k at a resolution r' costs about k^2 (r'/r)^2 of the network's channel
work, so a quarter-width network at 128 px costs what the full network does at 32 px while its
stages see 16x as many tokens (8x8 instead of 2x2 in stage 3 of a patch-4 net). Attention
keeps its number of heads (each head gets narrower), so the scaled stage still attends the way
the full one does; stem widths scale too.
"""

from __future__ import annotations

import dataclasses
import math

from nas._core import ConfigError

from .spec import ArchSpec, StemSpec

_MIN_WIDTH = 8  # channels; GroupNorm and depthwise convs stay meaningful


def scale_widths(spec: ArchSpec, factor: float) -> ArchSpec:
    """`spec` with every width times `factor` (0 < factor <= 1), rounded to a multiple of the
    stage's heads (and of 8 where possible)."""
    if not 0 < factor <= 1:
        raise ConfigError(
            f"`0 < width_scale <= 1` must hold, but got {factor}", field="width_scale"
        )
    if factor == 1:
        return spec
    stages = tuple(
        dataclasses.replace(s, width=_scaled(s.width, factor, s.heads)) for s in spec.stages
    )
    stem = spec.stem
    if stem.width:
        stem = StemSpec(stem.type, stem.patch_size, _scaled(stem.width, factor, 0))
    try:
        return spec.replace(stages=stages, stem=stem)
    except ConfigError as e:
        raise ConfigError(f"cannot scale widths by {factor}: {e}", field="width_scale") from None


def _scaled(width: int, factor: float, heads: int) -> int:
    unit = math.lcm(heads or 1, _MIN_WIDTH) if heads <= _MIN_WIDTH else heads
    want = max(width * factor, _MIN_WIDTH)
    return max(unit, round(want / unit) * unit)
