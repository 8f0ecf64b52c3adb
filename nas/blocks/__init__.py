"""Blocks by mixer name. Importing this package registers every block."""

from . import coatnet, convmixer, spach  # noqa: F401  (registration)
from .downsample import ConvDownsample
from .registry import BLOCKS, Block, BlockArgs, get_block, register_block
from .stems import build_stem

__all__ = [
    "BLOCKS",
    "Block",
    "BlockArgs",
    "ConvDownsample",
    "build_stem",
    "get_block",
    "register_block",
]
