"""CoAtNet's MBConv and relative-attention transformer blocks: timm's own, configured from
the stage spec (so CoAtNet presets equal `timm.create_model("coatnet_*_224")`)."""

from __future__ import annotations

from timm.models.maxxvit import (
    MaxxVitConvCfg,
    MaxxVitTransformerCfg,
    MbConvBlock,
    TransformerBlock2d,
    get_rel_pos_cls,
)
from torch import nn

from .registry import Block, BlockArgs, register_block


def conv_cfg(a: BlockArgs) -> MaxxVitConvCfg:
    return MaxxVitConvCfg(expand_ratio=a.mlp_ratio, kernel_size=a.kernel_size, act_layer=a.act)


def transformer_cfg(a: BlockArgs) -> MaxxVitTransformerCfg:
    return MaxxVitTransformerCfg(
        dim_head=a.dim // a.heads, expand_ratio=a.mlp_ratio, act_layer=a.act
    )


@register_block("mbconv")
class MbConv(MbConvBlock, Block):
    fmt = "nchw"

    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        super().__init__(a.dim_in, a.dim, stride=a.stride, cfg=conv_cfg(a), drop_path=a.drop_path)


@register_block("relattn")
class RelAttn(TransformerBlock2d, Block):
    fmt = "nchw"

    def __init__(self, a: BlockArgs, spatial: nn.Module | None = None):
        cfg = transformer_cfg(a)
        super().__init__(
            a.dim_in,
            a.dim,
            stride=a.stride,
            cfg=cfg,
            drop_path=a.drop_path,
            rel_pos_cls=get_rel_pos_cls(cfg, (a.size, a.size)),
        )
