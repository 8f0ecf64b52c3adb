"""SPACH's stage-opening downsample: 2x2 stride-2 conv (no bias) + GroupNorm(1 group)."""

from __future__ import annotations

from torch import nn


class ConvDownsample(nn.Sequential):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__(
            nn.Conv2d(dim_in, dim_out, 2, stride=2, bias=False), nn.GroupNorm(1, dim_out, eps=1e-5)
        )
