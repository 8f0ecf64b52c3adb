"""Sampling a parsed space: its templates (a net with choice leaves), and how a chooser turns
one into an ArchSpec, walks every decision path, or finds the choices behind a spec.

Whatever resolves the leaves (`optuna.Trial`, `RandomChooser`, `Replay`) goes through
`sample_space`, so sampling, enumerating and matching cannot disagree. Fields that do not matter
for a sampled stage (heads without attention...) are not sampled: Optuna sees a conditional
space. Parameter names are dotted and stable: `stage2.depth`, `stage3.seg2.depth`, `width`,
`ms.stage1.depth` inside a variant named `ms`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nas._core import ConfigError

from .choices import Categorical, Chooser, Continuous, Fixed, Leaf, ParamRef, Replay
from .mixers import FIELD_FLAGS, MIXERS, relevant_fields
from .spec import ArchSpec, HeadSpec, StageSpec, StemSpec


@dataclass(frozen=True)
class SegmentT:
    mixer: Leaf
    depth: Leaf


@dataclass(frozen=True)
class StageT:
    width: Leaf
    segments: tuple[SegmentT, ...]
    fields: tuple[tuple[str, Leaf], ...]


@dataclass(frozen=True)
class NetT:
    """One alternative of a space: everything but the variant choice."""

    resolution: int
    in_chans: int
    num_classes: int
    act: Leaf
    stem: tuple[tuple[str, Leaf], ...]
    head: tuple[tuple[str, Leaf], ...]
    stages: tuple[StageT, ...]
    params: dict[str, Leaf] = field(default_factory=dict)


@dataclass(frozen=True)
class SpaceSize:
    count: float  # architectures (exact) or decision paths (bound); inf when continuous
    exact: bool

    def __str__(self) -> str:
        if math.isinf(self.count):
            return "infinite (continuous choices)"
        return f"{int(self.count):,}" if self.exact else f"at most {int(self.count):,}"


StageHook = Callable[[Any, Any], None]
Variants = dict[str, NetT]


class Prune(Exception):
    """Raised by a walk hook to skip the subtree of decisions taken so far."""


def sample_space(
    variants: Variants,
    chooser: Chooser,
    *,
    resolution: int | None = None,
    hook: StageHook | None = None,
    source: str | None = None,
) -> ArchSpec:
    """One ArchSpec; each choice becomes `chooser.suggest_*` under a dotted stable name."""
    if len(variants) == 1:
        ((prefix, net),) = variants.items()
    else:
        prefix = chooser.suggest_categorical("variant", list(variants))
        net = variants[prefix]
    try:
        return sample_net(net, chooser, f"{prefix}." if prefix else "", resolution, hook)
    except ConfigError as e:
        raise e.within(source=source) from None


def sample_net(
    net: NetT,
    chooser: Chooser,
    prefix: str,
    resolution: int | None,
    hook: StageHook | None,
) -> ArchSpec:
    cache: dict[str, Any] = {}

    def get(leaf: Leaf, name: str) -> Any:
        if isinstance(leaf, ParamRef):
            if leaf.name not in cache:
                cache[leaf.name] = net.params[leaf.name].resolve(chooser, prefix + leaf.name)
            return leaf.apply(cache[leaf.name])
        return leaf.resolve(chooser, prefix + name)

    stem = StemSpec(**{k: get(v, f"stem.{k}") for k, v in net.stem})
    if hook:
        hook("stem", stem)
    stages = []
    for i, st in enumerate(net.stages):
        stages.append(sample_stage(st, i, get))
        if hook:
            hook(i, stages[-1])
    return ArchSpec(
        stages=tuple(stages),
        stem=stem,
        head=HeadSpec(**{k: get(v, f"head.{k}") for k, v in net.head}),
        act=get(net.act, "act"),
        resolution=net.resolution if resolution is None else resolution,
        in_chans=net.in_chans,
        num_classes=net.num_classes,
        layout="single" if len(stages) == 1 else "multi",
    )


def sample_stage(st: StageT, i: int, get: Callable[[Leaf, str], Any]) -> StageSpec:
    n = i + 1
    mixers: list[str] = []
    for j, seg in enumerate(st.segments, 1):
        base = f"stage{n}.seg{j}." if len(st.segments) > 1 else f"stage{n}."
        depth = get(seg.depth, base + "depth")
        if depth > 0:
            mixers += [get(seg.mixer, base + "mixer")] * depth
    kwargs = {"width": get(st.width, f"stage{n}.width")}
    keep = relevant_fields(mixers) if all(m in MIXERS for m in mixers) else []
    try:
        for name, leaf in st.fields:
            if name == "head_dim":
                if "heads" in keep:
                    kwargs["heads"] = heads_for(kwargs["width"], get(leaf, f"stage{n}.head_dim"))
            elif name not in FIELD_FLAGS or name in keep:  # conditional: where used
                kwargs[name] = get(leaf, f"stage{n}.{name}")
        return StageSpec(mixers=tuple(mixers), **kwargs)
    except ConfigError as e:
        raise e.within(prefix=f"stages[{i}]") from None


def heads_for(width: Any, head_dim: Any) -> int:
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 1:
        raise ConfigError(f"expected a whole number >= 1, got {head_dim!r}", field="head_dim")
    if not isinstance(width, int) or width % head_dim:
        raise ConfigError(
            f"width {width} is not divisible by head_dim {head_dim}", field="head_dim"
        )
    return width // head_dim


# --- walking every decision path -------------------------------------------------------------


def walk(
    variants: Variants,
    *,
    resolution: int | None = None,
    hook: StageHook | None = None,
    limit: int | None = None,
    source: str | None = None,
) -> Iterator[tuple[dict[str, Any], ArchSpec]]:
    """Every (params, spec) of the space, in a fixed order. Raises Continuous on floats.

    `hook(where, part)` may raise `Prune` to skip every path that shares the decisions
    taken so far.
    """
    path: list[int] | None = []
    seen = 0
    while path is not None:
        replay = Replay(path)
        try:
            spec = sample_space(variants, replay, resolution=resolution, hook=hook, source=source)
        except Prune:
            spec = None
        if spec is not None:
            yield replay.params, spec
            seen += 1
            if limit is not None and seen >= limit:
                return
        path = replay.next_path()


def space_size(variants: Variants, *, limit: int = 20_000) -> SpaceSize:
    """Exact number of distinct architectures when there are at most `limit` decision paths,
    else an upper bound (the product of every choice's size)."""
    bound = sum(net_bound(net) for net in variants.values())
    if math.isinf(bound) or bound > limit:
        return SpaceSize(bound, exact=False)
    return SpaceSize(len({spec.arch_id for _, spec in walk(variants)}), exact=True)


def find_params(
    variants: Variants, spec: ArchSpec, *, source: str | None = None
) -> dict[str, Any] | None:
    """The choices that sample `spec` (for `study.enqueue_trial`), or None if it is not a
    point of the space."""

    def hook(where: Any, part: Any) -> None:
        want = (
            spec.stem
            if where == "stem"
            else (spec.stages[where] if where < len(spec.stages) else None)
        )
        if part != want:
            raise Prune

    try:
        for params, found in walk(variants, resolution=spec.resolution, hook=hook, source=source):
            if found == spec:
                return dict(params)
    except Continuous:
        raise ConfigError(
            "cannot match a spec in a space with continuous float choices; "
            "give the float ranges a step",
            source=source,
        ) from None
    return None


def space_choices(variants: Variants) -> dict[str, Leaf]:
    """Every choice of the space by parameter name (conditional ones included)."""
    out: dict[str, Leaf] = {}
    if len(variants) > 1:
        out["variant"] = Categorical(tuple(variants))
    for prefix, net in variants.items():
        pre = f"{prefix}." if prefix else ""
        for name, _, leaf in net_leaves(net):
            if not isinstance(leaf, (Fixed, ParamRef)):
                out[pre + name] = leaf
    return out


def net_leaves(net: NetT) -> Iterator[tuple[str, str, Leaf]]:
    """Every leaf as (its Optuna parameter name, its path in the YAML file, leaf)."""
    yield "act", "act", net.act
    for k, leaf in net.stem:
        yield f"stem.{k}", f"stem.{k}", leaf
    for k, leaf in net.head:
        yield f"head.{k}", f"head.{k}", leaf
    for i, st in enumerate(net.stages, 1):
        at = f"stages[{i - 1}]"
        yield f"stage{i}.width", f"{at}.width", st.width
        for j, seg in enumerate(st.segments, 1):
            base = f"stage{i}.seg{j}." if len(st.segments) > 1 else f"stage{i}."
            yield base + "depth", f"{at}.blocks[{j - 1}].depth", seg.depth
            yield base + "mixer", f"{at}.blocks[{j - 1}].mixer", seg.mixer
        for k, leaf in st.fields:
            yield f"stage{i}.{k}", f"{at}.{k}", leaf
    for name, leaf in net.params.items():
        yield name, f"params.{name}", leaf


def net_bound(net: NetT) -> float:
    total = 1.0
    for _, _, leaf in net_leaves(net):
        if isinstance(leaf, (Fixed, ParamRef)):
            continue
        values = leaf.values()
        if values is None:
            return math.inf
        total *= len(values)
    return total
