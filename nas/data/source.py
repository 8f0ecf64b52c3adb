"""A `--data` spelling read into a source, and the identity that runs and studies record."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from nas.space import ConfigError

from .registry import DataKind, get_kind, kinds, spellings


@dataclass(frozen=True)
class DataSource:
    kind: str  # a registered kind (`nas.data.registry`)
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> DataSource:
        table = kinds()
        for kind in table.values():
            if not kind.takes_path and text in (kind.name, *kind.aliases):
                return cls(kind.name, None)
        name, sep, path = text.partition(":")
        if sep and path and name in table and table[name].takes_path:
            return cls(name, Path(path).expanduser())
        raise ConfigError(f"cannot read {text!r}; expected {spellings()}", field="--data")

    @property
    def spec(self) -> DataKind:
        return get_kind(self.kind)

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


def absolute_data(text: str) -> str:
    """`text` with its folder made absolute: what a study or a supernet records, so that a
    later command run from another folder (nas-train --from, nas-supernet score) finds it."""
    source = DataSource.parse(text)
    if source.path is None:
        return str(source)
    return str(DataSource(source.kind, source.path.resolve()))


def data_identity(text: str) -> str:
    """What a `--data` spelling stands for, as runs and studies record it: the kind and the
    set of file names under its folder (`cifar10@1a2b3c4d`), not the path typed, so `~/x`,
    `./x` and `/abs/x` are one source and a moved or renamed copy of the same files is the
    same data. File contents are not read (one stat per file would cost minutes on a network
    disk for ImageNet), so a resized copy under the same names counts as the same data: give
    it its own --out. (Decoded pixels are never stale: the cache is keyed by sizes and times.)"""
    source = DataSource.parse(text)
    if source.path is None:
        return source.kind
    return _folder_identity(source.kind, str(source.path.resolve()))


@functools.lru_cache(maxsize=32)
def _folder_identity(kind: str, root: str) -> str:
    if not os.path.isdir(root):
        raise ConfigError("data folder not found", source=root)
    names: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        names += sorted(os.path.join(rel, f) for f in files)
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:8]
    return f"{kind}@{digest}"
