"""ArchSpec: a frozen, hashable description of one concrete network.

Everything the builder builds and the cost model counts is here, nothing else: two specs that
build the same network compare equal and share an `arch_id`. Fields that do not matter for a
stage (heads of a stage without attention, say) are reset to their defaults on construction so
that they cannot split one architecture into two ids.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from typing import Any

from nas._core import ConfigError

from .mixers import FIELD_FLAGS, MIXERS, mixer_info, relevant_fields

STEM_TYPES = ("conv1", "conv4", "convmixer", "coatnet")
DOWNSAMPLES = ("none", "conv", "stride")
ACTS = ("gelu", "relu")
POOLS = ("avg", "fast")
LAYOUTS = ("single", "multi")
MIN_RESOLUTION = 8  # px: the smallest input side a search, a count or a training run accepts


@dataclass(frozen=True)
class StemSpec:
    """How the image becomes the first feature map.

    conv1: Conv(k=s=patch) + LayerNorm (SPACH). conv4: SPACH's deep stem, 3 convs of `width`
    channels then Conv(k=s=patch/2) + LayerNorm. convmixer: Conv(k=s=patch) + act + BN.
    coatnet: timm's CoAtNet stem, two 3x3 convs to `width` channels, stride 2.
    """

    type: str = "conv1"
    patch_size: int = 16
    width: int = 0  # inner width of conv4 / output width of coatnet; unused otherwise

    def __post_init__(self) -> None:
        _check_choice(self.type, STEM_TYPES, "stem.type")
        _check_int(self.patch_size, "stem.patch_size", low=1)
        _check_int(self.width, "stem.width", low=0)
        if self.type == "conv4" and self.patch_size % 2:
            raise ConfigError(
                f"conv4 stem needs an even patch size, got {self.patch_size}",
                field="stem.patch_size",
            )
        if self.type == "coatnet" and self.patch_size != 2:
            raise ConfigError(
                f"coatnet stem has stride 2, so patch_size must be 2, got {self.patch_size}",
                field="stem.patch_size",
            )
        if self.type in ("conv4", "coatnet") and self.width < 1:
            raise ConfigError(f"{self.type} stem needs width >= 1", field="stem.width")
        if self.type in ("conv1", "convmixer"):
            object.__setattr__(self, "width", 0)

    def out_width(self, first_stage_width: int) -> int:
        return self.width if self.type == "coatnet" else first_stage_width


@dataclass(frozen=True)
class HeadSpec:
    """Classifier: optional LayerNorm on the final map, global pool, optional MLP, linear.

    pool "avg" is timm's adaptive average pool (fvcore counts it); "fast" is a mean over
    positions, as SPACH's reference computes it (fvcore does not). hidden > 0 uses timm's
    NormMlpClassifierHead (pool, LayerNorm, Linear+tanh, Linear), as CoAtNet does.
    """

    norm: bool = False
    pool: str = "avg"
    hidden: int = 0

    def __post_init__(self) -> None:
        _check_bool(self.norm, "head.norm")
        _check_choice(self.pool, POOLS, "head.pool")
        _check_int(self.hidden, "head.hidden", low=0)


@dataclass(frozen=True)
class StageSpec:
    """One resolution level: an optional downsample, then `depth` blocks of the given mixers."""

    width: int
    mixers: tuple[str, ...]
    downsample: str = "none"  # none | conv (2x2 conv + GroupNorm, SPACH) | stride (first block)
    cpe: bool = True  # conditional position encoding on attn/mlp blocks
    shared: bool = False  # one spatial function per mixer type for the whole stage
    heads: int = 0
    mlp_ratio: float = 2.0  # channel-MLP ratio (SPACH) or expansion ratio (MBConv, CoAtNet)
    token_ratio: float = 0.5  # hidden tokens of the token-mixing MLP, as a share of tokens
    kernel_size: int = 3  # depthwise kernel of conv / convmixer / mbconv blocks

    def __post_init__(self) -> None:
        if isinstance(self.mixers, str) or not isinstance(self.mixers, (tuple, list)):
            raise ConfigError(
                f"expected a list of mixer names, got {self.mixers!r}", field="mixers"
            )
        object.__setattr__(self, "mixers", tuple(self.mixers))
        _check_int(self.width, "width", low=1)
        if not self.mixers:
            raise ConfigError("a stage needs at least one block", field="blocks")
        infos = [
            mixer_info(m, field=f"blocks[{self.mixers.index(m)}]")
            for m in dict.fromkeys(self.mixers)
        ]  # infos[0] is the first block's
        _check_choice(self.downsample, DOWNSAMPLES, "downsample")
        _check_bool(self.cpe, "cpe")
        _check_bool(self.shared, "shared")
        _check_int(self.heads, "heads", low=0)
        _check_int(self.kernel_size, "kernel_size", low=1)
        object.__setattr__(self, "mlp_ratio", _check_float(self.mlp_ratio, "mlp_ratio"))
        object.__setattr__(self, "token_ratio", _check_float(self.token_ratio, "token_ratio"))
        self._reset_irrelevant()
        if any(i.uses_heads for i in infos):
            if self.heads < 1:
                raise ConfigError("a stage with attention needs heads >= 1", field="heads")
            if self.width % self.heads:
                raise ConfigError(
                    f"width {self.width} is not divisible by heads {self.heads}", field="heads"
                )
        if any(i.uses_kernel for i in infos) and self.kernel_size % 2 == 0:
            raise ConfigError(
                f"kernel_size must be odd, got {self.kernel_size}", field="kernel_size"
            )
        if self.downsample == "stride" and not infos[0].strided:
            raise ConfigError(
                f"downsample 'stride' needs a first block that can stride "
                f"({', '.join(m.name for m in MIXERS.values() if m.strided)}), "
                f"got {self.mixers[0]!r}",
                field="downsample",
            )
        if any(i.uses_mlp for i in infos) and int(self.width * self.mlp_ratio) < 1:
            raise ConfigError(
                f"mlp_ratio {self.mlp_ratio} leaves no hidden channels", field="mlp_ratio"
            )

    def _reset_irrelevant(self) -> None:
        keep = relevant_fields(self.mixers)
        for name in FIELD_FLAGS:  # the conditional fields (see module docstring)
            if name not in keep:
                object.__setattr__(self, name, _defaults(StageSpec)[name])

    @property
    def depth(self) -> int:
        return len(self.mixers)

    @property
    def segments(self) -> list[tuple[str, int]]:
        """Run-length form of `mixers`, e.g. [("conv", 2), ("attn", 10)]."""
        return list(_segments(self.mixers))

    def relevant_fields(self) -> list[str]:
        return relevant_fields(self.mixers)


@lru_cache(maxsize=65536)  # costing and enumerating a space ask this for every stage
def _segments(mixers: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    return tuple((m, len(list(g))) for m, g in groupby(mixers))


@dataclass(frozen=True)
class ArchSpec:
    """One concrete network. Build it with `nas.models.build_model(spec)`."""

    stages: tuple[StageSpec, ...]
    stem: StemSpec = field(default_factory=StemSpec)
    head: HeadSpec = field(default_factory=HeadSpec)
    layout: str = "multi"
    resolution: int = 224
    in_chans: int = 3
    num_classes: int = 1000
    act: str = "gelu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ConfigError("an architecture needs at least one stage", field="stages")
        _check_choice(self.layout, LAYOUTS, "layout")
        want = "single" if len(self.stages) == 1 else "multi"
        if self.layout != want:
            raise ConfigError(
                f"layout {self.layout!r} does not fit {len(self.stages)} "
                f"stage(s); expected {want!r}",
                field="layout",
            )
        _check_int(self.resolution, "resolution", low=1)
        _check_int(self.in_chans, "in_chans", low=1)
        _check_int(self.num_classes, "num_classes", low=0)
        _check_choice(self.act, ACTS, "act")
        self._check_widths()
        sizes = self.feature_sizes()  # raises when the resolution does not fit the strides
        for i, (stage, size) in enumerate(zip(self.stages, sizes)):
            if "mlp" in stage.mixers and int(size * size * stage.token_ratio) < 1:
                raise ConfigError(
                    f"token_ratio {stage.token_ratio} leaves no hidden tokens "
                    f"on a {size}x{size} map",
                    field=f"stages[{i}].token_ratio",
                )

    def _check_widths(self) -> None:
        width = self.stem.out_width(self.stages[0].width)
        for i, stage in enumerate(self.stages):
            if stage.downsample == "none" and stage.width != width:
                raise ConfigError(
                    f"width changes from {width} to {stage.width} without a downsample; "
                    f"set downsample to 'conv' or 'stride'",
                    field=f"stages[{i}].width",
                )
            width = stage.width

    @property
    def depth(self) -> int:
        return sum(s.depth for s in self.stages)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(s.width for s in self.stages)

    def stem_size(self) -> int:
        """Side of the map the stem produces."""
        r, p = self.resolution, self.stem.patch_size
        if r % p:
            raise ConfigError(
                f"must be divisible by the stem's patch size {p}, got {r}", field="resolution"
            )
        return r // p

    def feature_sizes(self) -> list[int]:
        """Side of each stage's (square) output map."""
        size, sizes = self.stem_size(), []
        for i, stage in enumerate(self.stages):
            if stage.downsample != "none":
                if size % 2:
                    raise ConfigError(
                        f"stages[{i}] halves a {size}x{size} map; the resolution must be a "
                        f"multiple of {self.total_stride()}, got {self.resolution}",
                        field="resolution",
                    )
                size //= 2
            sizes.append(size)
        return sizes

    def total_stride(self) -> int:
        return self.stem.patch_size * 2 ** sum(s.downsample != "none" for s in self.stages)

    def fit_resolution(self, near: int) -> int:
        """The smallest resolution >= `near` this architecture accepts (for proxies)."""
        s = self.total_stride()
        return max(s, -(-near // s) * s)

    def replace(self, **changes: Any) -> ArchSpec:
        return dataclasses.replace(self, **changes)

    # --- canonical form, id and (de)serialisation -------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with only the fields that matter, as written to YAML."""
        stem = {"type": self.stem.type, "patch_size": self.stem.patch_size}
        if self.stem.width:
            stem["width"] = self.stem.width
        out: dict[str, Any] = {
            "resolution": self.resolution,
            "in_chans": self.in_chans,
            "num_classes": self.num_classes,
            "layout": self.layout,
            "act": self.act,
            "stem": stem,
            "head": dataclasses.asdict(self.head),
            "stages": [],
        }
        for s in self.stages:
            d: dict[str, Any] = {"width": s.width}
            d.update({name: getattr(s, name) for name in _unconditional()})
            d["blocks"] = [[m, n] for m, n in s.segments]
            d.update({name: getattr(s, name) for name in s.relevant_fields()})
            out["stages"].append(d)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ArchSpec:
        return spec_from_dict(data)

    def canonical(self) -> dict[str, Any]:
        """`to_dict()` with every field at its default left out: what `arch_id` hashes, so a
        new field with a default changes no existing id."""
        full = self.to_dict()
        out = _drop_defaults(full, _defaults(ArchSpec))
        for part, defaults in (("stem", _defaults(StemSpec)), ("head", _defaults(HeadSpec))):
            out[part] = _drop_defaults(full[part], defaults)
            if not out[part]:
                del out[part]
        out["stages"] = [_drop_defaults(s, _defaults(StageSpec)) for s in full["stages"]]
        return out

    @property
    def arch_id(self) -> str:
        """Stable 10-hex-digit id of the canonical form (`canonical()`)."""
        canon = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(canon.encode()).hexdigest()[:10]

    def summary(self) -> str:
        """One line, e.g. `multi 224px conv1/4 | 128:conv*3 | 256:conv*2+attn*2 | ...`."""
        parts = [f"{self.layout} {self.resolution}px {self.stem.type}/{self.stem.patch_size}"]
        for s in self.stages:
            parts.append(f"{s.width}:" + "+".join(f"{m}*{n}" for m, n in s.segments))
        return " | ".join(parts)


@functools.cache
def _defaults(cls: type) -> dict[str, Any]:
    """A dataclass's fields with a default (functions, not module constants derived from the
    classes: nas-export orders definitions, and a constant computed from a class whose methods
    read it would need itself)."""
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


# A stage's options (all but width and mixers), in the order a space samples them; the
# conditional ones (FIELD_FLAGS) only matter, and are only written, where a mixer uses them.
STAGE_OPTIONS = tuple(
    f.name for f in dataclasses.fields(StageSpec) if f.name not in ("width", "mixers")
)


def _unconditional() -> tuple[str, ...]:
    return tuple(name for name in STAGE_OPTIONS if name not in FIELD_FLAGS)


def _drop_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in data.items()
        if k not in defaults or type(v) is not type(defaults[k]) or v != defaults[k]
    }


# --- reading specs from plain data --------------------------------------------------------

# A spec file's keys are the dataclasses' fields: a stage's mixers are spelled `blocks`
# (run-length segments, `parse_blocks`), and a file may carry its `name`.


def _stage_keys() -> tuple[str, ...]:
    return tuple("blocks" if f.name == "mixers" else f.name for f in dataclasses.fields(StageSpec))


def _top_keys() -> tuple[str, ...]:
    return (*(f.name for f in dataclasses.fields(ArchSpec)), "name")


def parse_blocks(value: Any, field: str) -> tuple[str, ...]:
    """`[[conv, 2], [attn, 10]]` or `[conv, conv, attn]` -> per-block mixer names."""
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"expected a non-empty list like [[conv, 2], [attn, 10]], got {value!r}", field=field
        )
    mixers: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            mixers.append(item)
        elif (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
            and item[1] >= 0
        ):
            mixers.extend([item[0]] * item[1])
        else:
            raise ConfigError(
                f"expected a mixer name or [mixer, count], got {item!r}", field=f"{field}[{i}]"
            )
    return tuple(mixers)


def spec_from_dict(data: Any) -> ArchSpec:
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}")
    _check_keys(data, _top_keys(), "")
    stages_raw = data.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError("expected a non-empty list of stages", field="stages")
    stages = []
    for i, raw in enumerate(stages_raw):
        path = f"stages[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"expected a mapping, got {raw!r}", field=path)
        _check_keys(raw, _stage_keys(), path)
        if "width" not in raw or "blocks" not in raw:
            raise ConfigError("a stage needs 'width' and 'blocks'", field=path)
        kwargs = {k: v for k, v in raw.items() if k != "blocks"}
        try:
            stages.append(StageSpec(mixers=parse_blocks(raw["blocks"], "blocks"), **kwargs))
        except ConfigError as e:
            raise e.within(prefix=path) from None
    kwargs = {k: v for k, v in data.items() if k not in ("stages", "stem", "head", "name")}
    for key, cls in (("stem", StemSpec), ("head", HeadSpec)):
        sub = data.get(key, {})
        if not isinstance(sub, dict):
            raise ConfigError(f"expected a mapping, got {sub!r}", field=key)
        _check_keys(sub, [f.name for f in dataclasses.fields(cls)], key)
        kwargs[key] = cls(**sub)
    if "layout" not in kwargs:
        kwargs["layout"] = "single" if len(stages) == 1 else "multi"
    return ArchSpec(stages=tuple(stages), **kwargs)


# --- small checks that raise ConfigError ------------------------------------------------------


def check_resolution(value: Any, *, field: str = "--resolution") -> int:
    """A resolution given by the user (not read from a spec): an integer of at least
    MIN_RESOLUTION pixels. Zero is an error, never "the spec's own"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_RESOLUTION:
        raise ConfigError(
            f"expected an integer of at least {MIN_RESOLUTION} pixels, got {value!r}", field=field
        )
    return value


def _check_keys(data: dict, allowed: Any, path: str) -> None:
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(f"unknown field; expected one of {', '.join(allowed)}", field=where)


def _check_choice(value: Any, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise ConfigError(f"expected one of {', '.join(allowed)}, got {value!r}", field=field)


def _check_int(value: Any, field: str, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {value!r}", field=field)
    if value < low:
        raise ConfigError(f"expected an integer >= {low}, got {value}", field=field)


def _check_bool(value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r}", field=field)


def _check_float(value: Any, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
        or not math.isfinite(value)
    ):
        raise ConfigError(f"expected a positive finite number, got {value!r}", field=field)
    return float(value)
