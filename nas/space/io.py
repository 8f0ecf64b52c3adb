"""YAML in and out, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from nas._core import ConfigError, write_text_atomic

from .spec import ArchSpec, spec_from_dict


def read_yaml(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", source=str(path)) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"not valid YAML: {problem}", field=where, source=str(path)) from None


def spec_to_yaml(spec: ArchSpec, *, name: str | None = None) -> str:
    data = spec.to_dict()
    header = f"# arch_id: {spec.arch_id}\n"
    if name:
        data = {"name": name, **data}
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def save_spec(spec: ArchSpec, path: str | os.PathLike, *, name: str | None = None) -> None:
    write_text_atomic(path, spec_to_yaml(spec, name=name))


def load_spec(path: str | os.PathLike) -> ArchSpec:
    data = read_yaml(path)
    try:
        return spec_from_dict(data)
    except ConfigError as e:
        raise e.within(source=str(path)) from None
