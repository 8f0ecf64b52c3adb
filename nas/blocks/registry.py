"""Mixer name -> block class. Names and their metadata live in `nas.space.mixers`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from torch import nn

from nas.space.errors import ConfigError
from nas.space.mixers import MIXERS

T = TypeVar("T", bound=type)
BLOCKS: dict[str, type[nn.Module]] = {}


@dataclass(frozen=True)
class BlockArgs:
    """Everything a block constructor may need, resolved from the stage spec."""

    dim_in: int
    dim: int
    size: int  # side of the block's output map
    stride: int = 1
    heads: int = 0
    mlp_ratio: float = 2.0
    token_ratio: float = 0.5
    kernel_size: int = 3
    cpe: bool = True
    act: str = "gelu"
    drop_path: float = 0.0
    layer_scale: float = 1e-4  # init of SPACH's layer-scale gamma


def register_block(name: str) -> Callable[[T], T]:
    """Class decorator: the block for mixer `name` (which must be described in MIXERS)."""

    def wrap(cls: T) -> T:
        if name not in MIXERS:
            raise KeyError(f"mixer {name!r} has no entry in nas.space.mixers.MIXERS")
        if getattr(cls, "fmt", None) != MIXERS[name].fmt:
            raise TypeError(f"{cls.__name__}.fmt must be {MIXERS[name].fmt!r}")
        BLOCKS[name] = cls
        return cls

    return wrap


def get_block(name: str) -> type[nn.Module]:
    try:
        return BLOCKS[name]
    except KeyError:
        raise ConfigError(
            f"no block registered for mixer {name!r}; registered: {', '.join(BLOCKS)}"
        ) from None
