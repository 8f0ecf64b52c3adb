"""SPACH's mixing block (Zhao et al., 2021) with its three spatial functions.

x = x + gamma * F(LN(x)) + CPE(x);  x = x + MLP(LN(x)), on tokens (B, N, C). The `conv` block
has no F: its only spatial op is the depthwise conv in CPE position, as in the reference.
"""

from __future__ import annotations

import torch
from timm.layers import Attention, DropPath, LayerScale, Mlp, get_act_layer
from torch import nn

from .registry import Block, BlockArgs, register_block


class TokenMlp(nn.Module):
    """MLP-Mixer token mixing: one MLP along the token axis, shared by all channels."""

    def __init__(self, num_tokens: int, hidden: int, act: str = "gelu"):
        super().__init__()
        self.mlp = Mlp(num_tokens, hidden, act_layer=get_act_layer(act))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x.transpose(1, 2)).transpose(1, 2)


class DwConv(nn.Module):
    """Depthwise conv on tokens: CPE (3x3) or the conv mixer's kernel."""

    def __init__(self, dim: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        y = self.conv(x.transpose(1, 2).reshape(b, c, *hw))
        return y.flatten(2).transpose(1, 2)


class MixingBlock(Block, nn.Module):
    """One SPACH block; `spatial` is its F (shared when the stage shares weights) or None."""

    fmt = "nlc"

    def __init__(self, a: BlockArgs, spatial: nn.Module | None, cpe_kernel: int = 3):
        super().__init__()
        self.spatial = spatial
        self.norm1 = nn.LayerNorm(a.dim, eps=1e-6) if spatial is not None else None
        self.ls1 = LayerScale(a.dim, init_values=a.layer_scale) if spatial is not None else None
        self.cpe = DwConv(a.dim, cpe_kernel) if cpe_kernel else None
        self.norm2 = nn.LayerNorm(a.dim, eps=1e-6)
        self.mlp = Mlp(a.dim, int(a.dim * a.mlp_ratio), act_layer=get_act_layer(a.act))
        self.drop_path = DropPath(a.drop_path) if a.drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        shortcut = x
        if self.spatial is not None:
            x = x + self.drop_path(self.ls1(self.spatial(self.norm1(shortcut))))
        if self.cpe is not None:
            x = x + self.cpe(shortcut, hw)
        return x + self.drop_path(self.mlp(self.norm2(x)))


@register_block("conv")
class ConvBlock(MixingBlock):
    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        super().__init__(a, None, cpe_kernel=a.kernel_size)


@register_block("attn")
class AttnBlock(MixingBlock):
    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        super().__init__(a, spatial or self.make_spatial(a), cpe_kernel=3 if a.cpe else 0)

    @staticmethod
    def make_spatial(a: BlockArgs) -> nn.Module:
        return Attention(a.dim, num_heads=a.heads, qkv_bias=True)


@register_block("mlp")
class MlpBlock(MixingBlock):
    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        super().__init__(a, spatial or self.make_spatial(a), cpe_kernel=3 if a.cpe else 0)

    @staticmethod
    def make_spatial(a: BlockArgs) -> nn.Module:
        n = a.size * a.size
        return TokenMlp(n, int(n * a.token_ratio), a.act)
