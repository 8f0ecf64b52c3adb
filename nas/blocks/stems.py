"""Stems: image -> first feature map (NCHW), one per `StemSpec.type`."""

from __future__ import annotations

import torch
from timm.layers import LayerNorm2d, get_act_layer
from timm.models.maxxvit import Stem as CoAtNetStem
from torch import nn

from nas.space import StemSpec


class PatchStem(nn.Module):
    """SPACH `conv1`: Conv(k = s = patch) then LayerNorm over channels."""

    def __init__(self, in_chans: int, dim: int, patch_size: int):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, stride=patch_size)
        self.norm = LayerNorm2d(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class DeepStem(nn.Module):
    """SPACH `conv4`: 7x7/2 conv, two 3x3 convs (BN, ReLU), Conv(k = s = patch/2), LN."""

    def __init__(self, in_chans: int, dim: int, patch_size: int, hidden: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (k, s) in enumerate(((7, 2), (3, 1), (3, 1))):
            layers += [
                nn.Conv2d(
                    in_chans if i == 0 else hidden, hidden, k, stride=s, padding=k // 2, bias=False
                ),
                nn.BatchNorm2d(hidden),
                nn.ReLU(),
            ]
        sub = patch_size // 2
        layers.append(nn.Conv2d(hidden, dim, sub, stride=sub))
        self.proj = nn.Sequential(*layers)
        self.norm = LayerNorm2d(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class ConvMixerStem(nn.Sequential):
    """ConvMixer: Conv(k = s = patch) -> act -> BN, in timm's order."""

    def __init__(self, in_chans: int, dim: int, patch_size: int, act: str = "gelu"):
        super().__init__(
            nn.Conv2d(in_chans, dim, patch_size, stride=patch_size),
            get_act_layer(act)(),
            nn.BatchNorm2d(dim),
        )


def build_stem(stem: StemSpec, *, in_chans: int, dim: int, act: str) -> nn.Module:
    """`dim` is the first stage's width (the stem's output for all but coatnet)."""
    if stem.type == "conv1":
        return PatchStem(in_chans, dim, stem.patch_size)
    if stem.type == "conv4":
        return DeepStem(in_chans, dim, stem.patch_size, stem.width)
    if stem.type == "convmixer":
        return ConvMixerStem(in_chans, dim, stem.patch_size, act)
    if stem.type == "coatnet":
        return CoAtNetStem(in_chans, stem.width, act_layer=act)
    raise ValueError(f"unknown stem type {stem.type!r}")  # unreachable: StemSpec validates
