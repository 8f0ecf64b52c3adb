"""The seed architectures as ArchSpecs (points of the shipped spaces, not hand-written modules).

SPACH (Zhao et al., 2021; microsoft/SPACH `models/registry.py`), ConvMixer (Trockman & Kolter;
timm `convmixer.py`) and CoAtNet (Dai et al., 2021; timm `maxxvit.py`, paper-like configs).
Variants are derived by suffix: `_conv4` (deep stem, the paper's "+" models), `_shared`
(weight sharing in every stage but the first of MS nets), `_nocpe` (no CPE on attn/mlp blocks).
"""

from __future__ import annotations

import dataclasses

from nas.space import ArchSpec, ConfigError, HeadSpec, StageSpec, StemSpec

Segments = list[tuple[str, int]]

_SPACH_HEAD = HeadSpec(norm=True, pool="fast")


def _mixers(segments: Segments) -> tuple[str, ...]:
    return tuple(m for m, n in segments for _ in range(n))


def spach_ss(width: int, mixer: str, depth: int, *, mlp_ratio: float, heads: int = 0) -> ArchSpec:
    """Single-stage SPACH: patch-16 stem, one stage at 14x14 tokens."""
    stage = StageSpec(width, (mixer,) * depth, heads=heads, mlp_ratio=mlp_ratio)
    return ArchSpec(stages=(stage,), stem=StemSpec("conv1", 16), head=_SPACH_HEAD, layout="single")


def spach_ms(width: int, arch: list[Segments], *, mlp_ratio: float, heads: int = 0) -> ArchSpec:
    """Multi-stage SPACH: patch-4 stem, widths C, 2C, 4C, 8C, 2x2-conv downsampling."""
    stages = tuple(
        StageSpec(
            width * 2**i,
            _mixers(segs),
            downsample="conv" if i else "none",
            heads=heads,
            mlp_ratio=mlp_ratio,
        )
        for i, segs in enumerate(arch)
    )
    return ArchSpec(stages=stages, stem=StemSpec("conv1", 4), head=_SPACH_HEAD)


def _ms_arch(mixer: str, depths: tuple[int, ...]) -> list[Segments]:
    """Stage 1 is always conv in SPACH's MS models."""
    return [[("conv", depths[0])]] + [[(mixer, d)] for d in depths[1:]]


def convmixer(
    width: int, depth: int, *, kernel_size: int, patch_size: int, act: str = "gelu"
) -> ArchSpec:
    stage = StageSpec(width, ("convmixer",) * depth, kernel_size=kernel_size)
    return ArchSpec(
        stages=(stage,),
        stem=StemSpec("convmixer", patch_size),
        head=HeadSpec(pool="avg"),
        layout="single",
        act=act,
    )


def coatnet(widths: tuple[int, ...], depths: tuple[int, ...], *, stem_width: int) -> ArchSpec:
    """C-C-T-T; MBConv and transformer blocks expand x4, attention heads of 32 channels."""
    stages = tuple(
        StageSpec(
            w,
            (mixer,) * d,
            downsample="stride",
            mlp_ratio=4.0,
            heads=w // 32 if mixer == "relattn" else 0,
        )
        for w, d, mixer in zip(widths, depths, ("mbconv", "mbconv", "relattn", "relattn"))
    )
    return ArchSpec(
        stages=stages,
        stem=StemSpec("coatnet", 2, stem_width),
        head=HeadSpec(pool="avg", hidden=widths[-1]),
    )


_SS = {  # name: (width, depth, mlp_ratio) for conv/mlp; attn models differ in width/depth
    "xxs": ((384, 12, 2), (192, 12, 2, 6)),
    "xs": ((384, 24, 2), (384, 12, 2, 12)),
    "s": ((512, 24, 3), (512, 12, 3, 16)),
}
_MS = {  # name: (conv/mlp width, attn width, attn heads, depths, mlp_ratio)
    "xxs": (64, 32, 1, (2, 2, 6, 2), 2),
    "xs": (96, 64, 2, (3, 4, 12, 3), 2),
    "s": (128, 96, 3, (3, 4, 12, 3), 3),
}


def _base_presets() -> dict[str, ArchSpec]:
    out: dict[str, ArchSpec] = {}
    for size, ((w, d, r), (aw, ad, ar, ah)) in _SS.items():
        for mixer in ("conv", "mlp"):
            out[f"spach_{size}_patch16_224_{mixer}"] = spach_ss(w, mixer, d, mlp_ratio=r)
        out[f"spach_{size}_patch16_224_attn"] = spach_ss(aw, "attn", ad, mlp_ratio=ar, heads=ah)
    for size, (w, aw, ah, depths, r) in _MS.items():
        for mixer in ("conv", "mlp"):
            out[f"spach_ms_{size}_patch4_224_{mixer}"] = spach_ms(
                w, _ms_arch(mixer, depths), mlp_ratio=r
            )
        out[f"spach_ms_{size}_patch4_224_attn"] = spach_ms(
            aw, _ms_arch("attn", depths), mlp_ratio=r, heads=ah
        )
    out["spach_ms_xs_patch4_224_hybrid"] = spach_ms(
        96,
        [[("conv", 3)], [("conv", 4)], [("conv", 2), ("attn", 10)], [("conv", 1), ("attn", 2)]],
        mlp_ratio=2,
        heads=3,
    )
    out["spach_ms_s_patch4_224_hybrid"] = spach_ms(
        128,
        [
            [("conv", 3)],
            [("conv", 2), ("attn", 2)],
            [("conv", 2), ("attn", 10)],
            [("conv", 1), ("attn", 2)],
        ],
        mlp_ratio=3,
        heads=4,
    )
    out["convmixer_1536_20"] = convmixer(1536, 20, kernel_size=9, patch_size=7)
    out["convmixer_768_32"] = convmixer(768, 32, kernel_size=7, patch_size=7, act="relu")
    out["convmixer_1024_20_ks9_p14"] = convmixer(1024, 20, kernel_size=9, patch_size=14)
    for i, (widths, depths, stem) in enumerate(
        (
            ((96, 192, 384, 768), (2, 3, 5, 2), 64),
            ((96, 192, 384, 768), (2, 6, 14, 2), 64),
            ((128, 256, 512, 1024), (2, 6, 14, 2), 128),
            ((192, 384, 768, 1536), (2, 6, 14, 2), 192),
        )
    ):
        out[f"coatnet_{i}_224"] = coatnet(widths, depths, stem_width=stem)
    return out


# --- variants by suffix ---------------------------------------------------------------------


def with_deep_stem(spec: ArchSpec) -> ArchSpec:
    return spec.replace(stem=StemSpec("conv4", spec.stem.patch_size, 64))


def with_sharing(spec: ArchSpec) -> ArchSpec:
    """Share F within each stage; never in stage 1 of an MS net (as SPACH)."""
    first = 1 if spec.layout == "multi" else 0
    return spec.replace(
        stages=tuple(dataclasses.replace(s, shared=i >= first) for i, s in enumerate(spec.stages))
    )


def without_cpe(spec: ArchSpec) -> ArchSpec:
    return spec.replace(stages=tuple(dataclasses.replace(s, cpe=False) for s in spec.stages))


VARIANTS = {"conv4": with_deep_stem, "shared": with_sharing, "nocpe": without_cpe}

BASE_PRESETS = _base_presets()
# The variants registered with timm by name; any `<spach preset>_<variant>` also resolves.
PRESETS: dict[str, ArchSpec] = {
    **BASE_PRESETS,
    "spach_ms_s_patch4_224_hybrid_conv4": with_deep_stem(
        BASE_PRESETS["spach_ms_s_patch4_224_hybrid"]
    ),
    "spach_ms_xs_patch4_224_hybrid_conv4": with_deep_stem(
        BASE_PRESETS["spach_ms_xs_patch4_224_hybrid"]
    ),
    "spach_s_patch16_224_mlp_shared": with_sharing(BASE_PRESETS["spach_s_patch16_224_mlp"]),
    "spach_ms_s_patch4_224_mlp_shared": with_sharing(BASE_PRESETS["spach_ms_s_patch4_224_mlp"]),
}


def get_preset(name: str) -> ArchSpec:
    """A preset by name, with or without timm's `nas_` prefix, variant suffixes allowed."""
    key = name.removeprefix("nas_")
    if key in PRESETS:
        return PRESETS[key]
    base, _, suffix = key.rpartition("_")
    if suffix in VARIANTS and base.startswith("spach") and base:
        return VARIANTS[suffix](get_preset(base))
    raise ConfigError(f"unknown preset {name!r}; `nas-flops --list` lists them")
