"""Comparison suites as data: a YAML file names the models of a study, the fidelity each is
trained at, and the findings to test as comparisons between them.

    # spach: what the file tests and why (the first comment is its description)
    sizes: [xxs, xs, s]            # {size} in preset names; {smaller} is the size before it
    default_size: xs
    fidelity: {proxy: cpu, epochs: 2}          # a proxy preset and fields to change
    groups:                                   # fidelities of named groups of models
      single-stage: {resolution: 64}
    models:
      ss_conv: {preset: "spach_{size}_patch16_224_conv", group: single-stage}
      ms_conv: {preset: "spach_ms_{size}_patch4_224_conv"}
      mine: {spec: {stages: [...]}}           # or an inline spec, or {file: path.yaml}:
                                              # in the suite's folder or the library
    findings:
      - id: F1
        claim: multi-stage beats single-stage for every mixer
        comparisons:
          - {a: ms_conv, b: ss_conv}                       # a is more accurate than b
          - {a: ms_conv, b: ms_attn, kind: equivalent, margin: 0.01}
          - {a: ms_mlp, b: ms_mlp_small, kind: larger-gap} # a overfits more (train - val)
          - {a: attn_big, b: conv_big, kind: larger-gain, from: [attn, conv]}
                                  # a gains more over its `from` than b over its own

A `larger-gain` comparison is a difference of differences, paired by seed:
(a - from[0]) - (b - from[1]). It tests claims about trends, e.g. CoAtNet's "attention gains
more than convolution as data grows": the same models at two data sizes (two groups).

Shipped suites live in `search_spaces/suites/`; `--suite PATH` loads any file. Every mistake
is one ConfigError naming the file and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nas.space import ArchSpec, ConfigError, spaces_dir
from nas.space.io import read_yaml
from nas.space.spec import spec_from_dict
from nas.train.proxy_config import PROXY_PRESETS, ProxyConfig

KINDS = ("better", "equivalent", "larger-gap", "larger-gain")
DEFAULT_MARGIN = 0.01  # one point of accuracy: "rivals" within it


@dataclass(frozen=True)
class Model:
    name: str
    spec: ArchSpec
    source: str  # the preset's name, the file, or "inline"
    proxy: ProxyConfig
    pick: bool = False  # of the first front given to nas-compare --from: judged against the rest


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    kind: str = "better"
    margin: float = DEFAULT_MARGIN
    base: tuple[str, str] | None = None  # larger-gain: the models a and b gain over


@dataclass(frozen=True)
class Finding:
    id: str
    claim: str
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    size: str | None
    models: dict[str, Model]
    findings: tuple[Finding, ...]
    source: str

    def only(self, ids: list[str]) -> Suite:
        """The suite cut to these findings and the models they compare (`--findings F1,F4`):
        the same run table, so the whole suite later reuses these runs."""
        known = [f.id for f in self.findings]
        unknown = [i for i in ids if i not in known]
        if unknown or not ids:
            raise ConfigError(
                f"expected finding ids of suite {self.name} ({', '.join(known)}), got "
                f"{', '.join(unknown) or 'none'}",
                field="--findings",
            )
        findings = tuple(f for f in self.findings if f.id in ids)
        named = {
            name for f in findings for c in f.comparisons for name in (c.a, c.b, *(c.base or ()))
        }
        models = {k: m for k, m in self.models.items() if k in named}
        return replace(self, models=models, findings=findings)


def suites_dir() -> Path:
    return spaces_dir() / "suites"


def list_suites() -> list[str]:
    return sorted(p.stem for p in suites_dir().glob("*.yaml"))


def load_suite(
    name_or_path: str | os.PathLike, *, size: str | None = None, proxy: ProxyConfig | None = None
) -> Suite:
    """A shipped suite by name or a YAML file. `size` picks among the file's `sizes`;
    `proxy` replaces the file's base fidelity (its groups still change their fields)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = suites_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(
                f"unknown suite {name_or_path!r}; expected a file path or one of "
                f"{', '.join(list_suites())}",
                field="--suite",
            )
    data = read_yaml(path)
    try:
        return _parse(data, path=path, size=size, proxy=proxy)
    except ConfigError as e:
        raise e.within(source=str(path)) from None


def _parse(data: Any, *, path: Path, size: str | None, proxy: ProxyConfig | None) -> Suite:
    _mapping(data, "")
    _keys(
        data,
        (
            "name",
            "description",
            "sizes",
            "default_size",
            "fidelity",
            "groups",
            "models",
            "findings",
        ),
        "",
    )
    size, smaller = _size(data, size)
    base = proxy or _proxy(
        data.get("fidelity", {}),
        PROXY_PRESETS["cpu"],
        "fidelity",
        label=str(data.get("name", path.stem)),
    )
    groups = {
        name: _proxy(fields, base, f"groups.{name}", label=f"{base.name}@{name}")
        for name, fields in _mapping(data.get("groups", {}), "groups").items()
    }
    models = {
        name: _model(name, raw, base=base, groups=groups, path=path, size=size, smaller=smaller)
        for name, raw in _mapping(data.get("models"), "models").items()
    }
    if not models:
        raise ConfigError("a suite needs at least one model", field="models")
    findings = tuple(
        _finding(raw, i, models)
        for i, raw in enumerate(_list(data.get("findings", []), "findings"))
    )
    return Suite(
        name=str(data.get("name", path.stem)),
        description=_description(path, data),
        size=size,
        models=models,
        findings=findings,
        source=str(path),
    )


def _size(data: dict, size: str | None) -> tuple[str | None, str | None]:
    sizes = _list(data.get("sizes", []), "sizes")
    if not sizes:
        if size is not None:
            raise ConfigError(f"this suite has no sizes, got --size {size}", field="--size")
        return None, None
    size = size or data.get("default_size") or sizes[0]
    if size not in sizes:
        raise ConfigError(
            f"expected one of {', '.join(map(str, sizes))}, got {size!r}", field="--size"
        )
    i = sizes.index(size)
    return size, (sizes[i - 1] if i else None)


def _proxy(fields: Any, base: ProxyConfig, where: str, *, label: str) -> ProxyConfig:
    """`base` (or the preset named by `proxy:`) with `fields` changed, named `label` when
    anything changed."""
    fields = dict(_mapping(fields, where))
    name = fields.pop("proxy", None)
    if name is not None:
        if name not in PROXY_PRESETS:
            raise ConfigError(
                f"unknown proxy preset {name!r}; expected one of {', '.join(PROXY_PRESETS)}",
                field=f"{where}.proxy",
            )
        base = PROXY_PRESETS[name]
    known = [f for f in base.to_dict() if f != "name"]
    _keys(fields, ["proxy", *known], where)
    try:
        return base.replace(name=label if fields else base.name, **fields)
    except ConfigError as e:
        raise ConfigError(
            e.message, field=f"{where}.{(e.field or '').removeprefix('proxy.')}"
        ) from None
    except TypeError as e:
        raise ConfigError(str(e), field=where) from None


def _model(
    name: str,
    raw: Any,
    *,
    base: ProxyConfig,
    groups: dict[str, ProxyConfig],
    path: Path,
    size: str | None,
    smaller: str | None,
) -> Model:
    where = f"models.{name}"
    raw = _mapping(raw, where)
    _keys(raw, ("preset", "spec", "file", "group"), where)
    given = [k for k in ("preset", "spec", "file") if k in raw]
    if len(given) != 1:
        raise ConfigError("give exactly one of preset, spec or file", field=where)
    group = raw.get("group")
    if group is not None and group not in groups:
        raise ConfigError(
            f"unknown group {group!r}; expected one of {', '.join(groups) or '(none defined)'}",
            field=f"{where}.group",
        )
    proxy = groups[group] if group is not None else base
    if "preset" in raw:
        preset = _fill(str(raw["preset"]), size, smaller, f"{where}.preset")
        from nas.models import get_preset  # the presets are the models layer's data

        try:
            return Model(name, get_preset(preset), preset, proxy)
        except ConfigError as e:
            raise ConfigError(e.message, field=f"{where}.preset") from None
    if "file" in raw:
        file = _model_file(raw["file"], suite=path, where=f"{where}.file")
        return Model(name, _file_spec(file, raw["file"], where=f"{where}.file"), str(file), proxy)
    try:
        return Model(name, spec_from_dict(raw["spec"]), "inline", proxy)
    except ConfigError as e:
        raise e.within(prefix=f"{where}.spec") from None


def _model_file(entry: Any, *, suite: Path, where: str) -> Path:
    """The spec file a `file:` entry names, relative to the suite's folder. Only a YAML file
    inside that folder or the shipped library is read (links resolved first): a suite from
    elsewhere cannot make the command open any file it can reach."""
    if not isinstance(entry, str) or not entry:
        raise ConfigError(
            f"expected the path of a spec YAML file, got {type(entry).__name__}", field=where
        )
    file = (suite.parent / entry).resolve()
    roots = (suite.parent.resolve(), spaces_dir().resolve())
    if file.suffix not in (".yaml", ".yml") or not any(file.is_relative_to(r) for r in roots):
        raise ConfigError(
            f"{entry}: expected a spec YAML file (.yaml, .yml) inside the suite's folder "
            f"({roots[0]}) or the shipped library ({roots[1]})",
            field=where,
        )
    return file


def _file_spec(file: Path, entry: str, *, where: str) -> ArchSpec:
    """The spec in `file`, errors located at the suite's entry. Only a file that reads as a
    spec (a mapping with `stages`) has its own mistakes quoted; of anything else nothing
    of its contents is echoed."""
    try:
        data = read_yaml(file)
    except ConfigError as e:  # not found, unreadable, not YAML: no contents in the message
        at = f" ({e.field})" if e.field else ""
        raise ConfigError(f"{entry}: {e.message}{at}", field=where) from None
    if not isinstance(data, dict) or "stages" not in data:
        raise ConfigError(
            f"{entry}: not an architecture spec (expected a YAML mapping with `stages`)",
            field=where,
        )
    try:
        return spec_from_dict(data)
    except ConfigError as e:
        inside = f"{e.field}: " if e.field else ""
        raise ConfigError(f"{entry}: {inside}{e.message}", field=where) from None


def _fill(text: str, size: str | None, smaller: str | None, where: str) -> str:
    if "{smaller}" in text and smaller is None:
        raise ConfigError(f"{{smaller}} needs a size before {size!r} in sizes", field=where)
    if ("{size}" in text or "{smaller}" in text) and size is None:
        raise ConfigError("{size} needs the suite's sizes", field=where)
    return text.replace("{size}", size or "").replace("{smaller}", smaller or "")


def _finding(raw: Any, i: int, models: dict[str, Model]) -> Finding:
    where = f"findings[{i}]"
    raw = _mapping(raw, where)
    _keys(raw, ("id", "claim", "comparisons"), where)
    if "id" not in raw or "claim" not in raw:
        raise ConfigError("a finding needs an id and a claim", field=where)
    comps = []
    for j, c in enumerate(_list(raw.get("comparisons"), f"{where}.comparisons")):
        at = f"{where}.comparisons[{j}]"
        if isinstance(c, list) and len(c) == 2:
            c = {"a": c[0], "b": c[1]}
        c = _mapping(c, at)
        _keys(c, ("a", "b", "kind", "margin", "from"), at)
        for side in ("a", "b"):
            _model_name(c.get(side), models, f"{at}.{side}")
        kind = c.get("kind", "better")
        if kind not in KINDS:
            raise ConfigError(
                f"expected one of {', '.join(KINDS)}, got {kind!r}", field=f"{at}.kind"
            )
        base = _base(c.get("from"), kind, models, at)
        margin = c.get("margin", DEFAULT_MARGIN)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin <= 0:
            raise ConfigError(f"expected a positive number, got {margin!r}", field=f"{at}.margin")
        comps.append(Comparison(c["a"], c["b"], kind, float(margin), base))
    if not comps:
        raise ConfigError("a finding needs at least one comparison", field=f"{where}.comparisons")
    return Finding(str(raw["id"]), str(raw["claim"]), tuple(comps))


def _model_name(name: Any, models: dict[str, Model], where: str) -> None:
    if name not in models:
        raise ConfigError(
            f"names no model of the suite: {name!r}; expected one of {', '.join(models)}",
            field=where,
        )


def _base(raw: Any, kind: str, models: dict[str, Model], at: str) -> tuple[str, str] | None:
    """A `larger-gain` comparison's `from: [a's base, b's base]`; no other kind takes one."""
    if kind != "larger-gain":
        if raw is not None:
            raise ConfigError(
                f"only a larger-gain comparison takes `from`, not {kind}", field=f"{at}.from"
            )
        return None
    if not isinstance(raw, list) or len(raw) != 2:
        raise ConfigError(
            f"expected the two models that a and b gain over, [a's, b's], got {raw!r}",
            field=f"{at}.from",
        )
    for i, name in enumerate(raw):
        _model_name(name, models, f"{at}.from[{i}]")
    return raw[0], raw[1]


def _description(path: Path, data: dict) -> str:
    if data.get("description"):
        return str(data["description"])
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(lines)


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {value!r}", field=where or None)
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {value!r}", field=where)
    return value


def _keys(data: dict, allowed: Any, where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(allowed)}",
                field=f"{where}.{key}" if where else str(key),
            )
