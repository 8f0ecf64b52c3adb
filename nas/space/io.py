"""YAML in and out, with errors that name the file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
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


def write_atomic(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """`write(tmp_path)` fills a temp file in the same folder, which then replaces `path`:
    a reader (or a killed run) never sees half a file. The file gets the usual mode (0666
    less the umask), not the owner-only mode of a temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the real suffix last: writers such as savefig pick the format from it
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
