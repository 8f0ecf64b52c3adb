"""ConvMixer block (Trockman & Kolter): residual depthwise conv, then pointwise conv.

Written out because timm builds it inline in `ConvMixer.__init__`; the layers and their order
are timm's, so parameter and FLOP counts equal `timm.create_model("convmixer_*")`.
"""

from __future__ import annotations

import torch
from timm.layers import DropPath, get_act_layer
from torch import nn

from .registry import Block, BlockArgs, register_block


@register_block("convmixer")
class ConvMixerBlock(Block, nn.Module):
    fmt = "nchw"

    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        super().__init__()
        act = get_act_layer(a.act)
        self.dw = nn.Sequential(
            nn.Conv2d(a.dim, a.dim, a.kernel_size, groups=a.dim, padding="same"),
            act(),
            nn.BatchNorm2d(a.dim),
        )
        self.pw = nn.Sequential(nn.Conv2d(a.dim, a.dim, 1), act(), nn.BatchNorm2d(a.dim))
        self.drop_path = DropPath(a.drop_path) if a.drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(x + self.drop_path(self.dw(x)))
