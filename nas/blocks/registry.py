"""Mixer name -> block class, and the interface every block declares (`Block`).

A mixer has three entries, one per layer: its row in `nas.space.mixers.MIXERS` (what the
space knows without torch), its block class here (`@register_block`), and its closed-form cost
(`nas.cost.closed_form`, `@block_formula`). `nas.cost.table_gaps()` names any that is missing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from torch import nn

from nas._core import ConfigError
from nas.space.mixers import MIXERS

T = TypeVar("T", bound=type)


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


class Block:
    """The interface of a mixer block: a mixin beside `nn.Module` (or a timm block).

    - `fmt`: the layout it works in, as its MIXERS row says: "nlc" blocks take tokens
      `forward(x: (B, N, C), hw: (H, W))`, "nchw" blocks take maps `forward(x: (B, C, H, W))`
      (a "nchw" block with `BlockArgs.stride` 2 halves the map);
    - `__init__(a: BlockArgs, spatial: nn.Module | None = None)`: built from the resolved stage
      fields; `spatial` is the stage's shared spatial function when the stage shares weights;
    - `make_spatial(a)`: that shareable function (None when the block has none to share).

    A stage converts between layouts once per run of same-layout blocks (`nas.models.net`).
    """

    fmt: ClassVar[str]

    @staticmethod
    def make_spatial(a: BlockArgs) -> nn.Module | None:
        return None


BLOCKS: dict[str, type[Block]] = {}


def register_block(name: str) -> Callable[[T], T]:
    """Class decorator: the block for mixer `name` (which must have a row in MIXERS). The class
    must implement `Block` and `nn.Module`; a mismatch fails at import, naming the class."""

    def wrap(cls: T) -> T:
        if name not in MIXERS:
            raise KeyError(f"mixer {name!r} has no row in nas.space.mixers.MIXERS")
        if not (issubclass(cls, Block) and issubclass(cls, nn.Module)):
            raise TypeError(f"{cls.__name__} must subclass nas.blocks.Block and nn.Module")
        if getattr(cls, "fmt", None) != MIXERS[name].fmt:
            raise TypeError(f"{cls.__name__}.fmt must be {MIXERS[name].fmt!r}")
        params = list(inspect.signature(cls.__init__).parameters)[1:3]
        if params != ["a", "spatial"]:
            raise TypeError(f"{cls.__name__}.__init__ must take (a: BlockArgs, spatial=None)")
        BLOCKS[name] = cls
        return cls

    return wrap


def get_block(name: str) -> type[Block]:
    try:
        return BLOCKS[name]
    except KeyError:
        raise ConfigError(
            f"no block registered for mixer {name!r}; registered: {', '.join(BLOCKS)}"
        ) from None
