"""NasNet: the one nn.Module every ArchSpec builds into, honouring timm's model contract.

Stages take and return NCHW maps. Inside a stage, blocks that work on tokens (SPACH) get a
(B, N, C) view, converted once per run of token blocks, not once per block.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import torch
from timm.layers import ClassifierHead, LayerNorm2d, NormMlpClassifierHead
from timm.models import named_apply
from timm.models._features import feature_take_indices  # not exported by timm.models
from torch import nn
from torch.utils.checkpoint import checkpoint

from nas.blocks import BlockArgs, ConvDownsample, build_stem, get_block
from nas.space import ArchSpec, StageSpec
from nas.space.spec import POOLS


class Stage(nn.Module):
    def __init__(self, downsample: nn.Module, blocks: list[nn.Module]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.ModuleList(blocks)
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        h, w = x.shape[-2:]
        tokens = False
        for block in self.blocks:
            if (block.fmt == "nlc") != tokens:
                x = to_tokens(x) if not tokens else to_map(x, h, w)
                tokens = not tokens
            args = (x, (h, w)) if tokens else (x,)
            if self.grad_checkpointing and self.training:
                x = checkpoint(block, *args, use_reentrant=False)
            else:
                x = block(*args)
            if not tokens:
                h, w = x.shape[-2:]
        return to_map(x, h, w) if tokens else x


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)


def to_map(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


def drop_path_rates(spec: ArchSpec, rate: float) -> list[float]:
    """SPACH: uniform in single-stage nets, rising linearly over all blocks in multi-stage ones
    (timm's CoAtNet does the same)."""
    n = spec.depth
    if spec.layout == "single" or n == 1:
        return [rate] * n
    return [rate * i / (n - 1) for i in range(n)]


def build_stage(
    stage: StageSpec, *, dim_in: int, size: int, act: str, drop_paths: list[float]
) -> Stage:
    downsample = (
        ConvDownsample(dim_in, stage.width) if stage.downsample == "conv" else nn.Identity()
    )
    if stage.downsample == "conv":
        dim_in = stage.width
    shared: dict[str, nn.Module | None] = {}
    blocks = []
    for i, mixer in enumerate(stage.mixers):
        strided = i == 0 and stage.downsample == "stride"
        a = BlockArgs(
            dim_in=dim_in if i == 0 else stage.width,
            dim=stage.width,
            size=size,
            stride=2 if strided else 1,
            heads=stage.heads,
            mlp_ratio=stage.mlp_ratio,
            token_ratio=stage.token_ratio,
            kernel_size=stage.kernel_size,
            cpe=stage.cpe,
            act=act,
            drop_path=drop_paths[i],
        )
        cls = get_block(mixer)
        spatial = None
        if stage.shared:
            if mixer not in shared:
                shared[mixer] = cls.make_spatial(a)
            spatial = shared[mixer]
        blocks.append(cls(a, spatial))
    return Stage(downsample, blocks)


class NasNet(nn.Module):
    """A backbone + classifier built from an ArchSpec (`self.spec`)."""

    def __init__(
        self,
        spec: ArchSpec,
        *,
        num_classes: int | None = None,
        in_chans: int | None = None,
        img_size: int | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        global_pool: str | None = None,
    ):
        super().__init__()
        changes = {
            k: v
            for k, v in (
                ("num_classes", num_classes),
                ("in_chans", in_chans),
                ("resolution", img_size),
            )
            if v is not None
        }
        spec = spec.replace(**changes) if changes else spec
        self.spec = spec = _with_pool(spec, global_pool)
        self.num_classes = spec.num_classes
        self.in_chans = spec.in_chans
        self.drop_rate = drop_rate
        self.grad_checkpointing = False

        first = spec.stages[0].width
        self.stem = build_stem(spec.stem, in_chans=spec.in_chans, dim=first, act=spec.act)
        dim, stride = spec.stem.out_width(first), spec.stem.patch_size
        self.feature_info = []
        dprs = drop_path_rates(spec, drop_path_rate)
        stages = []
        for i, (stage, size) in enumerate(zip(spec.stages, spec.feature_sizes())):
            stages.append(
                build_stage(
                    stage, dim_in=dim, size=size, act=spec.act, drop_paths=dprs[: stage.depth]
                )
            )
            dprs = dprs[stage.depth :]
            dim = stage.width
            stride *= 2 if stage.downsample != "none" else 1
            self.feature_info.append(dict(num_chs=dim, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = dim
        self.norm = LayerNorm2d(dim, eps=1e-6) if spec.head.norm else nn.Identity()
        pool = global_pool if global_pool is not None else spec.head.pool
        if spec.head.hidden:
            self.head = NormMlpClassifierHead(
                dim,
                spec.num_classes,
                hidden_size=spec.head.hidden,
                pool_type=pool,
                drop_rate=drop_rate,
                norm_layer=partial(LayerNorm2d, eps=1e-6),
            )
        else:
            self.head = ClassifierHead(dim, spec.num_classes, pool_type=pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self.init_weights()

    # --- timm's model contract ---------------------------------------------------------------

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stages(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Stage outputs for dense tasks (timm's `features_only` uses this)."""
        if output_fmt != "NCHW":
            raise ValueError("only output_fmt='NCHW' is supported")
        take, last = feature_take_indices(len(self.stages), indices)
        intermediates = []
        x = self.stem(x)
        stages = self.stages[: last + 1] if stop_early else self.stages
        for i, stage in enumerate(stages):
            x = stage(x)
            if i in take:
                is_last = i == len(self.stages) - 1
                intermediates.append(self.norm(x) if norm and is_last else x)
        if intermediates_only:
            return intermediates
        return self.norm(x), intermediates

    def prune_intermediate_layers(
        self, indices: int | list[int] = 1, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        take, last = feature_take_indices(len(self.stages), indices)
        self.stages = self.stages[: last + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, pool_type=global_pool)
        self.spec = _with_pool(self.spec.replace(num_classes=num_classes), global_pool)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable
        for stage in self.stages:
            stage.grad_checkpointing = enable

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict:
        return dict(stem=r"^stem", blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))])

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Relative position tables; 1-D params (norms, biases, gamma) timm skips by itself."""
        return {n for n, _ in self.named_parameters() if "relative_position_bias_table" in n}

    # --- initialisation ----------------------------------------------------------------------

    def init_weights(self) -> None:
        """SPACH's init everywhere, then timm's own init inside timm's CoAtNet parts."""
        named_apply(_spach_init, self)
        for module in self.modules():
            if module is not self and hasattr(module, "init_weights"):
                try:
                    module.init_weights(scheme="vit_eff")
                except TypeError:
                    module.init_weights()
        fc = self.head.fc
        if isinstance(fc, nn.Linear):
            nn.init.zeros_(fc.weight)
            nn.init.zeros_(fc.bias)


def _spach_init(module: nn.Module, name: str = "") -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _with_pool(spec: ArchSpec, pool: str | None) -> ArchSpec:
    """The spec of a model whose pooling timm changed, so that spec, cost and checkpoint keep
    describing it. Pools the spec cannot express (timm's '' for feature maps, 'max', ...)
    leave it as it was: the backbone it describes is unchanged."""
    if pool not in POOLS or pool == spec.head.pool:
        return spec
    return spec.replace(head=dataclasses.replace(spec.head, pool=pool))
