"""Data sources by kind: the one table `--data KIND[:PATH]` is read from.

A kind is one module of `nas.data.kinds` that registers a `DataKind`: how its spelling reads,
how it draws the proxy's subset and how it opens the splits of full training. Adding a data
source is that one file (and its tests); the commands' help texts and the parser come from
this table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nas.space import ConfigError


@dataclass(frozen=True)
class Draw:
    """What the proxy asks a kind for: a class-balanced draw of its images, and how to load
    them. The one argument of `DataKind.proxy` beside the source."""

    train_images: int
    val_images: int
    val_split: str  # "train": val held out of the training split; "val": the data's own
    classes: Any  # nas.data.classes.Classes: a class subset, or None for every class
    gen: Any  # torch.Generator: draws the images
    folder_size: int  # px an image folder's images are stored at (kinds with a size keep it)
    workers: int  # processes decoding image files
    skip_bad_images: bool  # leave out files that cannot be decoded (else stop, naming one)
    cache_dir: Any  # the cache folder (None: nas.data.cache.cache_root())

    def indices(self, train_labels: Any, val_labels: Any = None) -> tuple[Any, Any]:
        """(train indices, val indices) of the class-balanced draw: the val indices into
        `val_labels` (the data's own val split) when this draw asks for that split, else
        held out of `train_labels`, disjoint from the training images."""
        from .proxy import draw_split

        return draw_split(
            train_labels,
            val_labels if self.val_split == "val" else None,
            train_images=self.train_images,
            val_images=self.val_images,
            gen=self.gen,
        )


@dataclass(frozen=True)
class DataKind:
    """One kind of data source."""

    name: str  # the kind as written before the colon, e.g. "cifar10"
    about: str  # one line for --help: what it reads
    proxy: Callable[..., Any]  # (source, Draw) -> ProxyData
    full: Callable[..., Any]  # (source, *, train_tf, val_tf, classes) -> (train, val, names)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)  # normalisation of the proxy's images
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    takes_path: bool = True  # spelled KIND:PATH (else KIND alone)
    aliases: tuple[str, ...] = ()  # other spellings of a path-less kind
    stored_size: int | None = None  # px its images are kept at (None: the proxy decides)

    @property
    def usage(self) -> str:
        return f"{self.name}:PATH" if self.takes_path else self.name


KINDS: dict[str, DataKind] = {}


def register(kind: DataKind) -> DataKind:
    if kind.name in KINDS:
        raise ValueError(f"data kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


def kinds() -> dict[str, DataKind]:
    """Every registered kind (importing `nas.data.kinds` registers the shipped ones), the
    path-less ones (the defaults) first."""
    importlib.import_module("nas.data.kinds")
    return dict(sorted(KINDS.items(), key=lambda kv: kv[1].takes_path))


def get_kind(name: str) -> DataKind:
    table = kinds()
    if name not in table:
        raise ConfigError(f"unknown data kind {name!r}; expected {spellings()}", field="--data")
    return table[name]


def spellings() -> str:
    """`fashion-mnist, imagenet:PATH, ...`: what --data accepts."""
    return ", ".join(k.usage for k in kinds().values())


def data_help() -> str:
    """The --data help text of every command."""
    lines = "; ".join(f"{k.usage}: {k.about}" for k in kinds().values())
    return f"where images come from ({lines})"
