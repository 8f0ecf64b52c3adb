"""SearchSpace: the shape of an ArchSpec with choice leaves, loaded from `search_spaces/*.yaml`.

A space file is a spec file in which any scalar may be a choice (`{choice: [...]}`,
`{int: [lo, hi], step: s}`, `{float: [lo, hi]}`) or a reference to a named choice shared by
several fields (`{param: width, times: 2}`). A stage's `blocks` is a list of segments
`[mixer, depth]`, both of which may be choices: `[[conv, {int: [0, 4]}], [attn, {int: [0, 8]}]]`
reads "some conv blocks, then the last k blocks are attention", SPACH's hybrid pattern.
`variants:` offers whole alternatives (single- or multi-stage, say), sampled as `variant`.

This module parses and checks a space file (a bad space fails at load, not in the middle of a
search); `nas.space.sampling` draws, walks and matches its architectures.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas._core import ConfigError

from .choices import (
    Chooser,
    FloatRange,
    IntRange,
    Leaf,
    ParamRef,
    RandomChooser,
    parse_leaf,
)
from .io import read_yaml
from .mixers import MIXERS
from .sampling import (
    NetT,
    Prune,
    SegmentT,
    SpaceSize,
    StageHook,
    StageT,
    find_params,
    net_leaves,
    sample_space,
    space_choices,
    space_size,
    walk,
)
from .spec import STAGE_OPTIONS, ArchSpec, HeadSpec, StemSpec

# A space's keys are a spec's (its dataclasses' fields) and its named choices, `params`; a
# stage may give head_dim instead of heads (heads = width / head_dim, so the head count can
# follow a searched width), sampled where heads would be.
_AFTER_HEADS = STAGE_OPTIONS.index("heads") + 1
_STAGE_FIELDS = (*STAGE_OPTIONS[:_AFTER_HEADS], "head_dim", *STAGE_OPTIONS[_AFTER_HEADS:])
_NET_KEYS = (*(f.name for f in dataclasses.fields(ArchSpec)), "params")
_SPACE_KEYS = (*_NET_KEYS, "name", "description", "variants")
_SMOKE_SAMPLES = 64


class SearchSpace:
    """A family of ArchSpecs. Sample with an Optuna trial, a seed, or walk them all
    (`nas.space.sampling`)."""

    def __init__(
        self,
        *,
        name: str,
        variants: dict[str, NetT],
        description: str = "",
        source: str | None = None,
        content: dict[str, Any] | None = None,
    ):
        self.name = name
        self.variants = variants
        self.description = description
        self.source = source
        self.content = content or {}  # the mapping it was parsed from (its YAML, no comments)

    def content_leaves(self) -> dict[str, Any]:
        """The content as `{dotted.path: value}`: what a study is bound to, so that an edit of
        the space (not of its comments or file name) is told apart, leaf by leaf."""
        out: dict[str, Any] = {}

        def walk(value: Any, path: str) -> None:
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    walk(v, f"{path}.{k}" if path else str(k))
            elif (
                isinstance(value, list)
                and value
                and any(isinstance(v, (dict, list)) for v in value)
            ):
                for i, v in enumerate(value):
                    walk(v, f"{path}.{i}" if path else str(i))
            else:
                out[path] = value

        walk(self.content, "")
        return out

    def __repr__(self) -> str:
        return f"SearchSpace({self.name!r}, variants={list(self.variants) or None})"

    def sample(
        self, trial: Chooser, *, resolution: int | None = None, hook: StageHook | None = None
    ) -> ArchSpec:
        """One ArchSpec; each choice becomes `trial.suggest_*` under a dotted stable name."""
        return sample_space(
            self.variants, trial, resolution=resolution, hook=hook, source=self.source
        )

    def sample_random(
        self, seed: int | random.Random | None = None, *, resolution: int | None = None
    ) -> ArchSpec:
        return self.sample(RandomChooser(seed), resolution=resolution)

    def walk(
        self,
        *,
        resolution: int | None = None,
        hook: StageHook | None = None,
        limit: int | None = None,
    ) -> Iterator[tuple[dict[str, Any], ArchSpec]]:
        """Every (params, spec) of the space, in a fixed order. Raises Continuous on floats.

        `hook(where, part)` may raise `Prune` to skip every path that shares the decisions
        taken so far.
        """
        return walk(
            self.variants, resolution=resolution, hook=hook, limit=limit, source=self.source
        )

    def size(self, *, limit: int = 20_000) -> SpaceSize:
        """Exact number of distinct architectures when there are at most `limit` decision
        paths, else an upper bound (the product of every choice's size)."""
        return space_size(self.variants, limit=limit)

    def find_params(self, spec: ArchSpec) -> dict[str, Any] | None:
        """The choices that sample `spec` (for `study.enqueue_trial`), or None if it is not a
        point of this space."""
        return find_params(self.variants, spec, source=self.source)

    def contains(self, spec: ArchSpec) -> bool:
        return self.find_params(spec) is not None

    def choices(self) -> dict[str, Leaf]:
        """Every choice of the space by parameter name (conditional ones included)."""
        return space_choices(self.variants)


# --- loading ------------------------------------------------------------------------------


def spaces_dir() -> Path:
    """The shipped library; NAS_SPACES_DIR points elsewhere.

    Installed from a wheel or sdist, the spaces sit inside the package (`nas/search_spaces/`,
    placed there by setup.py); in a checkout, or an editable install of one, they are read
    where they live, the top-level `search_spaces/`."""
    env = os.environ.get("NAS_SPACES_DIR")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]
    installed = package / "search_spaces"
    return installed if installed.is_dir() else package.parent / "search_spaces"


def list_spaces() -> list[str]:
    return sorted(p.stem for p in spaces_dir().glob("*.yaml"))


def load_space(name_or_path: str | os.PathLike) -> SearchSpace:
    """A shipped space by name (`hybrid`) or any YAML file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        path = spaces_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"unknown space {str(name_or_path)!r}; expected a file path or "
                f"one of {', '.join(list_spaces())}"
            )
    data = read_yaml(path)
    try:
        return parse_space(
            data, name=path.stem, description=_header_comment(path), source=str(path)
        )
    except ConfigError as e:
        raise e.within(source=str(path)) from None


def _header_comment(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return "\n".join(lines).strip()


def parse_space(
    data: Any, *, name: str = "space", description: str = "", source: str | None = None
) -> SearchSpace:
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top of the file, got {type(data).__name__}")
    for key in data:
        if key not in _SPACE_KEYS:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(_SPACE_KEYS)}", field=str(key)
            )
    base = {k: v for k, v in data.items() if k not in ("name", "description", "variants")}
    variants_raw = data.get("variants")
    if variants_raw is None:
        variants = {"": _parse_net(base, "")}
    else:
        if not isinstance(variants_raw, dict) or not variants_raw:
            raise ConfigError("expected a mapping of variant name -> fields", field="variants")
        variants = {}
        for vname, over in variants_raw.items():
            path = f"variants.{vname}"
            if not isinstance(vname, str) or not vname.isidentifier():
                raise ConfigError("variant names must be identifiers", field=path)
            if not isinstance(over, dict):
                raise ConfigError("expected a mapping of fields", field=path)
            merged = {**base, **over}
            merged["params"] = {
                **_params_raw(base, "params"),
                **_params_raw(over, f"{path}.params"),
            }
            variants[vname] = _parse_net(merged, path)
        _check_params_used(base, variants_raw, variants)
    space = SearchSpace(
        name=str(data.get("name", name)),
        variants=variants,
        description=str(data.get("description", description)),
        source=source,
        content=data,
    )
    _smoke_check(space)
    return space


def _params_raw(data: dict, field: str) -> dict:
    raw = data.get("params") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of name -> choice, got {raw!r}", field=field)
    return raw


def _check_params_used(base: dict, variants_raw: dict, variants: dict[str, NetT]) -> None:
    """A top-level param may serve only some variants; one used by none is a mistake."""
    used = {name: _used_params(net) for name, net in variants.items()}
    for vname, over in variants_raw.items():
        for p in _params_raw(over, f"variants.{vname}.params"):
            if p not in used[vname]:
                raise ConfigError("param is never used", field=f"variants.{vname}.params.{p}")
    for p in _params_raw(base, "params"):
        if not any(p in u for u in used.values()):
            raise ConfigError("param is never used by any variant", field=f"params.{p}")


def _used_params(net: NetT) -> set[str]:
    return {leaf.name for _, _, leaf in net_leaves(net) if isinstance(leaf, ParamRef)}


def _parse_net(data: dict, path: str) -> NetT:
    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    for key in data:
        if key not in _NET_KEYS:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(_NET_KEYS)}", field=at(str(key))
            )
    fixed = {}
    for key, default in (("resolution", 224), ("in_chans", 3), ("num_classes", 1000)):
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"expected a fixed integer >= 1, got {value!r}", field=at(key))
        fixed[key] = value
    params_raw = _params_raw(data, at("params"))
    params = {str(k): parse_leaf(v, at(f"params.{k}")) for k, v in params_raw.items()}
    for k, leaf in params.items():
        if isinstance(leaf, ParamRef):
            raise ConfigError("a param cannot refer to another param", field=at(f"params.{k}"))
    stages_raw = data.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError("expected a non-empty list of stages", field=at("stages"))
    if "layout" in data and data["layout"] != ("single" if len(stages_raw) == 1 else "multi"):
        raise ConfigError(
            f"layout {data['layout']!r} does not fit {len(stages_raw)} stage(s)",
            field=at("layout"),
        )
    net = NetT(
        act=parse_leaf(data.get("act", "gelu"), at("act")),
        stem=_parse_part(data.get("stem", {}), StemSpec, at("stem")),
        head=_parse_part(data.get("head", {}), HeadSpec, at("head")),
        stages=tuple(_parse_stage(s, at(f"stages[{i}]")) for i, s in enumerate(stages_raw)),
        params=params,
        **fixed,
    )
    _static_checks(net, path)
    return net


def _parse_part(raw: Any, cls: type, path: str) -> tuple[tuple[str, Leaf], ...]:
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping, got {raw!r}", field=path)
    allowed = [f for f in cls.__dataclass_fields__]
    out = []
    for key, value in raw.items():
        if key not in allowed:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(allowed)}", field=f"{path}.{key}"
            )
        out.append((key, parse_leaf(value, f"{path}.{key}")))
    return tuple(out)


def _parse_stage(raw: Any, path: str) -> StageT:
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping, got {raw!r}", field=path)
    allowed = ("width", "blocks", *_STAGE_FIELDS)
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(allowed)}", field=f"{path}.{key}"
            )
    for key in ("width", "blocks"):
        if key not in raw:
            raise ConfigError(f"a stage needs {key!r}", field=path)
    if "heads" in raw and "head_dim" in raw:
        raise ConfigError(
            "give heads or head_dim (heads = width / head_dim), not both", field=f"{path}.head_dim"
        )
    blocks = raw["blocks"]
    if not isinstance(blocks, list) or not blocks:
        raise ConfigError(
            "expected a non-empty list of segments like [[conv, 2], [attn, {int: [0, 8]}]]",
            field=f"{path}.blocks",
        )
    segments = []
    for j, seg in enumerate(blocks):
        where = f"{path}.blocks[{j}]"
        if isinstance(seg, (str, dict)):
            seg = [seg, 1]
        if not isinstance(seg, list) or len(seg) != 2:
            raise ConfigError(f"expected [mixer, depth], got {seg!r}", field=where)
        segments.append(
            SegmentT(parse_leaf(seg[0], where + ".mixer"), parse_leaf(seg[1], where + ".depth"))
        )
    fields = tuple(
        (k, parse_leaf(raw.get(k, "none"), f"{path}.{k}"))
        for k in _STAGE_FIELDS
        if k in raw or k == "downsample"
    )
    return StageT(parse_leaf(raw["width"], f"{path}.width"), tuple(segments), fields)


# --- static checks: a bad space fails at load, not in the middle of a search -----------------


def _values(leaf: Leaf, params: dict[str, Leaf], field: str = "") -> list[Any] | None:
    if isinstance(leaf, ParamRef):
        inner = _values(params[leaf.name], params)
        try:
            return None if inner is None else [leaf.apply(v) for v in inner]
        except ConfigError as e:
            raise ConfigError(e.message, field=field) from None
    return leaf.values()


def _static_checks(net: NetT, path: str) -> None:
    where = (lambda f: f"{path}.{f}") if path else (lambda f: f)
    for _, at, leaf in net_leaves(net):
        if isinstance(leaf, ParamRef):
            if leaf.name not in net.params:
                raise ConfigError(
                    f"unknown param {leaf.name!r}; expected one of "
                    f"{', '.join(net.params) or '(no params defined)'}",
                    field=where(at),
                )
            _values(leaf, net.params, where(at))
    if not path:  # with variants, the loader checks use across all of them
        used = _used_params(net)
        for name in net.params:
            if name not in used:
                raise ConfigError("param is never used", field=f"params.{name}")
    for i, st in enumerate(net.stages):
        min_depth = 0
        for j, seg in enumerate(st.segments):
            seg_path = where(f"stages[{i}].blocks[{j}]")
            mixers = _values(seg.mixer, net.params) or []
            for m in mixers:
                if m not in MIXERS:
                    raise ConfigError(
                        f"unknown mixer {m!r}; expected one of {', '.join(MIXERS)}",
                        field=seg_path + ".mixer",
                    )
            depths = _values(seg.depth, net.params)
            if not depths or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in depths
            ):
                raise ConfigError(
                    f"depth must be a whole number >= 0, got {depths!r}", field=seg_path + ".depth"
                )
            min_depth += min(depths)
        if min_depth < 1:
            raise ConfigError(
                "every segment can have depth 0 at once, leaving an empty stage; "
                "give one segment a minimum depth >= 1",
                field=where(f"stages[{i}].blocks"),
            )
        _check_heads(st, net.params, where(f"stages[{i}]"))


def _check_heads(st: StageT, params: dict[str, Leaf], path: str) -> None:
    """Every heads (or head_dim) value must divide every width it can meet (jointly over
    shared params)."""
    fields = dict(st.fields)
    key = "heads" if "heads" in fields else "head_dim"
    heads_leaf = fields.get(key)
    if heads_leaf is None:
        return
    leaves = (st.width, heads_leaf)
    names = sorted({leaf.name for leaf in leaves if isinstance(leaf, ParamRef)})
    domains = [params[n].values() or [] for n in names]
    for assignment in itertools.product(*domains):
        env = dict(zip(names, assignment))
        widths, heads = (
            [leaf.apply(env[leaf.name])] if isinstance(leaf, ParamRef) else (leaf.values() or [])
            for leaf in leaves
        )
        for w in widths:
            for h in heads:
                if isinstance(w, int) and isinstance(h, int) and h > 0 and w % h:
                    raise ConfigError(
                        f"width {w} is not divisible by {key} {h}", field=f"{path}.{key}"
                    )


def _smoke_check(space: SearchSpace) -> None:
    """Sample a few architectures with a fixed seed so that a broken space fails at load."""
    rng = random.Random(0)
    for _ in range(_SMOKE_SAMPLES):
        chooser = RandomChooser(rng)
        try:
            space.sample(chooser)
        except ConfigError as e:
            picked = ", ".join(f"{k}={v!r}" for k, v in chooser.params.items())
            example = f" (for example with {picked})" if picked else ""
            raise ConfigError(e.message + example, field=e.field) from None


__all__ = [
    "FloatRange",
    "IntRange",
    "Prune",
    "SearchSpace",
    "SpaceSize",
    "list_spaces",
    "load_space",
    "parse_space",
    "spaces_dir",
]
