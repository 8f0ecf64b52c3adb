"""What the space layer knows about each mixer, without importing torch.

The torch modules live in `nas.blocks` and register under these names; a conformance test checks
that both tables agree. Adding a mixer = one row here + one registered class there.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from nas._core import ConfigError


@dataclass(frozen=True)
class MixerInfo:
    name: str
    fmt: str  # tensor layout the block works in: "nlc" (tokens) or "nchw" (maps)
    uses_heads: bool = False  # has multi-head attention, so `heads` matters
    uses_kernel: bool = False  # has a k x k spatial conv, so `kernel_size` matters
    uses_tokens: bool = False  # mixes along the token axis with an MLP, so `token_ratio` matters
    uses_cpe: bool = False  # may carry a conditional position encoding, so `cpe` matters
    uses_mlp: bool = True  # has a channel MLP / expansion, so `mlp_ratio` matters
    shareable: bool = False  # its spatial function can be shared across a stage's blocks
    strided: bool = False  # can open a stage with stride 2 (`downsample: stride`)
    summary: str = ""


MIXERS: dict[str, MixerInfo] = {
    m.name: m
    for m in (
        MixerInfo(
            "conv",
            "nlc",
            uses_kernel=True,
            summary="SPACH conv block: depthwise conv as the only spatial op, channel MLP",
        ),
        MixerInfo(
            "attn",
            "nlc",
            uses_heads=True,
            uses_cpe=True,
            shareable=True,
            summary="SPACH transformer block: multi-head self-attention, channel MLP",
        ),
        MixerInfo(
            "mlp",
            "nlc",
            uses_tokens=True,
            uses_cpe=True,
            shareable=True,
            summary="SPACH MLP block: token-mixing MLP (MLP-Mixer), channel MLP",
        ),
        MixerInfo(
            "convmixer",
            "nchw",
            uses_kernel=True,
            uses_mlp=False,
            summary="ConvMixer block: residual depthwise conv, then pointwise conv",
        ),
        MixerInfo(
            "mbconv",
            "nchw",
            uses_kernel=True,
            strided=True,
            summary="CoAtNet MBConv block (timm maxxvit): expand, depthwise, SE, project",
        ),
        MixerInfo(
            "relattn",
            "nchw",
            uses_heads=True,
            strided=True,
            summary="CoAtNet transformer block (timm maxxvit): attention with relative "
            "position bias",
        ),
    )
}


def mixer_info(name: str, *, field: str | None = None) -> MixerInfo:
    try:
        return MIXERS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown mixer {name!r}; expected one of {', '.join(MIXERS)}", field=field
        ) from None


# Stage fields that only matter when one of the stage's mixers has the flag.
FIELD_FLAGS = {
    "mlp_ratio": "uses_mlp",
    "cpe": "uses_cpe",
    "shared": "shareable",
    "heads": "uses_heads",
    "token_ratio": "uses_tokens",
    "kernel_size": "uses_kernel",
}


def relevant_fields(mixers: Iterable[str]) -> list[str]:
    """Conditional stage fields that matter for a stage made of these mixers.

    Sharing is per mixer type, so it only changes the network when a shareable mixer occurs
    twice or more; otherwise `shared` true and false would be two ids for one network.
    """
    return list(_relevant_fields(tuple(mixers)))


@functools.lru_cache(maxsize=65536)  # enumerating a space asks this for every stage it builds
def _relevant_fields(mixers: tuple[str, ...]) -> tuple[str, ...]:
    counts = Counter(mixers)

    def used(field: str, flag: str) -> bool:
        names = [m for m, n in counts.items() if n > 1] if field == "shared" else counts
        return any(getattr(MIXERS[m], flag) for m in names)

    return tuple(f for f, flag in FIELD_FLAGS.items() if used(f, flag))
