"""Params and FLOPs of an ArchSpec from the spec alone, equal to the fvcore count to the unit.

Every term below is what fvcore, with our handles (`fvcore_count.EXTRA_HANDLES`), counts on the
modules `nas.models` builds: conv = weight numel x output positions, linear = input numel x out
features, fused or explicit attention = 2·N²·C, LayerNorm / GroupNorm 5 per element, BatchNorm
(eval) 2 per element, adaptive_avg_pool2d 1 per input element; biases, activations, softmax,
residual adds, average pools and `mean` are free. Parameters count each tensor once (a shared
spatial function once per stage).

Pure arithmetic on the spec: no model is built, no tensor touched. A mixer without a formula
here is not guessed at: `closed_form` raises `NoClosedForm`, or measures with fvcore when
`fallback=True`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nas.space import ArchSpec, HeadSpec, StageSpec, StemSpec

PF = tuple[int, int]  # (params, FLOPs) of one part: plain tuples keep this fast
ZERO: PF = (0, 0)


def total(*parts: PF) -> PF:
    params = flops = 0
    for p, f in parts:
        params += p
        flops += f
    return params, flops


def times(part: PF, k: int) -> PF:
    return part[0] * k, part[1] * k


@dataclass(frozen=True)
class Cost:
    """Whole-network cost; `by_module` (FLOPs) and `params_by_module` use the keys of
    `FlopCount.by_module` (stem, stages.0, ..., norm, head) so a mismatch is easy to locate."""

    params: int
    flops: int
    by_module: dict[str, int] = field(default_factory=dict)
    params_by_module: dict[str, int] = field(default_factory=dict)
    method: str = "closed-form"  # "fvcore" when measured because a block has no formula


class NoClosedForm(LookupError):
    """A block type without an exact formula: measure it instead."""


# formula(stage, dim_in, dim, size, stride) -> (own (params, FLOPs), spatial params).
# `size` is the side of the block's output map; stride 2 when it opens its stage
# (`downsample: stride`). Spatial params are counted once per stage when the stage shares them.
BlockFormula = Callable[[StageSpec, int, int, int, int], tuple[PF, int]]
BLOCK_COSTS: dict[str, BlockFormula] = {}
# Mixers knowingly left without a formula (measured with fvcore instead; a search space using
# them cannot have its feasible region computed). Every mixer is in one table or the other.
MEASURED_ONLY: frozenset[str] = frozenset()


def block_formula(name: str) -> Callable[[BlockFormula], BlockFormula]:
    def wrap(fn: BlockFormula) -> BlockFormula:
        BLOCK_COSTS[name] = fn
        return fn

    return wrap


# --- layers, as fvcore counts them ----------------------------------------------------------


def conv(cin: int, cout: int, k: int, positions: int, *, groups: int = 1, bias: bool = True) -> PF:
    weight = cout * (cin // groups) * k * k
    return weight + (cout if bias else 0), weight * positions


def linear(cin: int, cout: int, rows: int, *, bias: bool = True) -> PF:
    return cin * cout + (cout if bias else 0), rows * cin * cout


def layer_norm(c: int, positions: int) -> PF:  # LayerNorm, LayerNorm2d, GroupNorm: 5/elem
    return 2 * c, 5 * c * positions


def batch_norm(c: int, positions: int) -> PF:  # eval mode: 2/elem
    return 2 * c, 2 * c * positions


def make_divisible(v: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm.layers.make_divisible (MBConv's mid channels), re-stated here as arithmetic."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < round_limit * v else new_v


# --- SPACH mixing blocks (nas/blocks/spach.py) ----------------------------------------------


def _spach_block(
    stage: StageSpec, c: int, n: int, spatial: PF | None, cpe_kernel: int
) -> tuple[PF, int]:
    hidden = int(c * stage.mlp_ratio)
    parts = [layer_norm(c, n), linear(c, hidden, n), linear(hidden, c, n)]  # LN2 + channel MLP
    if cpe_kernel:
        parts.append(conv(c, c, cpe_kernel, n, groups=c))
    if spatial is None:  # the conv block: its depthwise conv (in CPE position) is all
        return total(*parts), 0
    parts += [layer_norm(c, n), (c, spatial[1])]  # LN1, F, layer-scale gamma (free multiply)
    return total(*parts), spatial[0]


@block_formula("conv")
def _conv_block(stage: StageSpec, dim_in: int, c: int, size: int, stride: int):
    return _spach_block(stage, c, size * size, None, stage.kernel_size)


@block_formula("attn")
def _attn_block(stage: StageSpec, dim_in: int, c: int, size: int, stride: int):
    n = size * size
    spatial = total(linear(c, 3 * c, n), linear(c, c, n), (0, 2 * n * n * c))  # q·k, ·v
    return _spach_block(stage, c, n, spatial, 3 if stage.cpe else 0)


@block_formula("mlp")
def _mlp_block(stage: StageSpec, dim_in: int, c: int, size: int, stride: int):
    n = size * size
    hidden = int(n * stage.token_ratio)
    spatial = total(linear(n, hidden, c), linear(hidden, n, c))  # along tokens, C rows
    return _spach_block(stage, c, n, spatial, 3 if stage.cpe else 0)


# --- ConvMixer (nas/blocks/convmixer.py) ----------------------------------------------------


@block_formula("convmixer")
def _convmixer_block(stage: StageSpec, dim_in: int, c: int, size: int, stride: int):
    n = size * size
    return total(
        conv(c, c, stage.kernel_size, n, groups=c),
        batch_norm(c, n),
        conv(c, c, 1, n),
        batch_norm(c, n),
    ), 0


# --- CoAtNet: timm.models.maxxvit MbConvBlock and TransformerBlock2d -------------------------


def _avg_shortcut(cin: int, cout: int, n: int, stride: int) -> PF:
    """Downsample2d: 2x2 avg pool (free), then a 1x1 conv with bias when the width changes."""
    return ZERO if stride == 1 or cin == cout else conv(cin, cout, 1, n)


@block_formula("mbconv")
def _mbconv_block(stage: StageSpec, cin: int, cout: int, size: int, stride: int):
    n = size * size
    n_in = n * stride * stride
    mid = make_divisible(cout * stage.mlp_ratio)
    rd = int(0.25 * cout)  # SE reduction of MaxxVitConvCfg (attn_ratio of the output width)
    return total(
        _avg_shortcut(cin, cout, n, stride),
        batch_norm(cin, n_in),  # pre-norm
        conv(cin, mid, 1, n_in, bias=False),
        batch_norm(mid, n_in),
        conv(mid, mid, stage.kernel_size, n, groups=mid, bias=False),
        batch_norm(mid, n),
        conv(mid, rd, 1, 1),
        conv(rd, mid, 1, 1),  # SE on the pooled 1x1 map
        conv(mid, cout, 1, n),
    ), 0


@block_formula("relattn")
def _relattn_block(stage: StageSpec, cin: int, c: int, size: int, stride: int):
    n = size * size
    hidden = int(c * stage.mlp_ratio)
    rel_pos = ((2 * size - 1) ** 2 * stage.heads, 0)  # RelPosBias table; its gather is free
    return total(
        _avg_shortcut(cin, c, n, stride),
        layer_norm(cin, n * stride * stride),  # norm1, pool
        conv(cin, 3 * c, 1, n),
        rel_pos,
        (0, 2 * n * n * c),
        conv(c, c, 1, n),
        layer_norm(c, n),
        conv(c, hidden, 1, n),
        conv(hidden, c, 1, n),
    ), 0


# --- stems, downsampling, head --------------------------------------------------------------


def stem_cost(stem: StemSpec, *, in_chans: int, width: int, resolution: int) -> PF:
    """`width`: the first stage's width (the stem's output for all but the coatnet stem)."""
    p = stem.patch_size
    n = (resolution // p) ** 2
    if stem.type == "conv1":
        return total(conv(in_chans, width, p, n), layer_norm(width, n))
    if stem.type == "convmixer":
        return total(conv(in_chans, width, p, n), batch_norm(width, n))
    h = stem.width
    half = ((resolution - 1) // 2 + 1) ** 2  # 7x7/2 pad 3 or 3x3/2 pad 1
    if stem.type == "conv4":
        mid = total(conv(h, h, 3, half, bias=False), batch_norm(h, half))
        return total(
            conv(in_chans, h, 7, half, bias=False),
            batch_norm(h, half),
            mid,
            mid,
            conv(h, width, p // 2, n),
            layer_norm(width, n),
        )
    if stem.type == "coatnet":
        return total(
            conv(in_chans, h, 3, half, bias=False),
            batch_norm(h, half),
            conv(h, h, 3, half, bias=False),
        )
    raise NoClosedForm(f"no closed form for stem type {stem.type!r}")


def stage_cost(stage: StageSpec, *, dim_in: int, size: int) -> PF:
    """One stage: `dim_in` channels arrive, `size` is the side of its output map."""
    width = stage.width
    params = flops = 0
    if stage.downsample == "conv":
        params, flops = total(
            conv(dim_in, width, 2, size * size, bias=False), layer_norm(width, size * size)
        )
        dim_in = width
    stride = 2 if stage.downsample == "stride" else 1
    shared: dict[str, int] = {}
    for mixer, count in stage.segments:
        formula = BLOCK_COSTS.get(mixer)
        if formula is None:
            raise NoClosedForm(
                f"no closed form for mixer {mixer!r} (add one to nas.cost.closed_form.BLOCK_COSTS)"
            )
        if dim_in != width or stride != 1:  # the stage's first block differs from the rest
            (p, f), spatial = formula(stage, dim_in, width, size, stride)
            params, flops = params + p + (0 if stage.shared else spatial), flops + f
            shared.setdefault(mixer, spatial)
            dim_in, stride, count = width, 1, count - 1
        if count:
            (p, f), spatial = formula(stage, width, width, size, 1)
            params, flops = params + count * p, flops + count * f
            params += 0 if stage.shared else count * spatial
            shared.setdefault(mixer, spatial)
    if stage.shared:
        params += sum(shared.values())
    return params, flops


def norm_cost(head: HeadSpec, *, width: int, size: int) -> PF:
    """The LayerNorm on the final map (`NasNet.norm`)."""
    return layer_norm(width, size * size) if head.norm else ZERO


def head_cost(head: HeadSpec, *, width: int, size: int, num_classes: int) -> PF:
    """timm's ClassifierHead / NormMlpClassifierHead; `avg` pooling counts 1 per element."""
    parts = [(0, width * size * size)] if head.pool == "avg" else []
    if head.hidden:
        parts += [layer_norm(width, 1), linear(width, head.hidden, 1)]
        width = head.hidden
    if num_classes:
        parts.append(linear(width, num_classes, 1))
    return total(*parts)


# --- the whole network ----------------------------------------------------------------------


def closed_form(spec: ArchSpec, *, fallback: bool = False) -> Cost:
    """Exact params and fvcore FLOPs of `spec` without building it.

    Raises NoClosedForm for a block or stem without a formula; with `fallback=True` that
    architecture is measured with fvcore instead (Cost.method says which was used).
    """
    try:
        return _closed_form(spec)
    except NoClosedForm:
        if not fallback:
            raise
    from .measuring import measure  # the one path that builds a model

    report = measure(spec)
    return Cost(report.params, report.flops, dict(report.count.by_module), method="fvcore")


def _closed_form(spec: ArchSpec) -> Cost:
    sizes = spec.feature_sizes()
    parts = {
        "stem": stem_cost(
            spec.stem,
            in_chans=spec.in_chans,
            width=spec.stages[0].width,
            resolution=spec.resolution,
        )
    }
    dim = spec.stem.out_width(spec.stages[0].width)
    for i, (stage, size) in enumerate(zip(spec.stages, sizes)):
        parts[f"stages.{i}"] = stage_cost(stage, dim_in=dim, size=size)
        dim = stage.width
    parts["norm"] = norm_cost(spec.head, width=dim, size=sizes[-1])
    parts["head"] = head_cost(spec.head, width=dim, size=sizes[-1], num_classes=spec.num_classes)
    params, flops = total(*parts.values())
    return Cost(
        params=params,
        flops=flops,
        by_module={k: f for k, (_, f) in parts.items()},
        params_by_module={k: p for k, (p, _) in parts.items()},
    )
