"""Proxy data: a small class-balanced subset of a data set, held as uint8 tensors on the device.

The proxy's validation images are held out from the *training* split, disjoint from the proxy's
training images: architecture selection never looks at the official validation/test split,
which stays clean for the final report of the full training. Images stay uint8 at their stored
size; each batch is converted, resized to the candidate's resolution and normalised on the
device (no DataLoader: the whole subset is resident).

Each kind of source draws its subset in its own module (`nas.data.kinds`); the draw and the
cache entries of decoded images are here. The subset of an image folder or of Downsampled
ImageNet is built once into the proxy-data cache (`nas.data.cache`: decoded by several
processes, `nas.data.decode`) and memory-mapped by every later run, resumed run and worker
process. `classes` restricts every source to a class subset (`nas.data.classes`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nas.space import ConfigError

from .cache import CachedArray, cached_array, file_stats
from .classes import Classes, describe, parse_classes
from .decode import available_cores, decode_files, decoder_settings
from .registry import Draw
from .source import DataSource

log = logging.getLogger("nas.data")


@dataclass
class ProxyData:
    train_x: torch.Tensor  # uint8 (N, C, H, W) on the device
    train_y: torch.Tensor  # int64 (N,)
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str = ""
    cache_path: Path | None = None  # the memory-mapped cache entry the images come from
    cache_built: bool = False  # this call built that entry (False: it was read)

    @classmethod
    def drawn(
        cls,
        source: Any,
        x: torch.Tensor,
        y: torch.Tensor,
        n_train: int,
        *,
        num_classes: int,
        entry: CachedArray | None = None,
    ) -> ProxyData:
        """A draw kept in one array (training images first, then validation), normalised as
        its source's kind says, with the cache entry it was read from."""
        kind = source.spec
        return cls(
            x[:n_train],
            y[:n_train],
            x[n_train:],
            y[n_train:],
            num_classes,
            kind.mean,
            kind.std,
            str(source),
            None if entry is None else entry.path,
            False if entry is None else entry.built,
        )

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def _stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std as (1, C, 1, 1) tensors on `device`, made once (no copy per batch)."""
        cache = self.__dict__.setdefault("_stats_cache", {})
        if device not in cache:
            cache[device] = tuple(
                torch.tensor(v, device=device).view(1, -1, 1, 1) for v in (self.mean, self.std)
            )
        return cache[device]

    def prepare(
        self,
        x: torch.Tensor,
        *,
        resolution: int,
        in_chans: int,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> torch.Tensor:
        """uint8 batch -> normalised float batch of `in_chans` x resolution^2, on the device.

        A 1-channel set feeding a 3-channel network is replicated, so every candidate keeps
        its own stem."""
        x = x.float().div_(255)
        if x.shape[-1] != resolution or x.shape[-2] != resolution:
            x = F.interpolate(
                x,
                size=(resolution, resolution),
                mode="bilinear",
                align_corners=False,
                antialias=x.shape[-1] > resolution,
            )
        mean, std = self._stats(x.device)
        x = (x - mean) / std
        if x.shape[1] != in_chans:
            if x.shape[1] != 1:
                raise ConfigError(
                    f"the data has {x.shape[1]} channels but the architecture takes {in_chans}",
                    field="in_chans",
                )
            x = x.expand(-1, in_chans, -1, -1)
        return x.contiguous(memory_format=memory_format)


def load_proxy_data(
    source: DataSource | str,
    *,
    train_images: int,
    val_images: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
    folder_size: int = 64,
    classes: Classes | str = None,
    workers: int | None = None,
    skip_bad_images: bool = False,
    cache_dir: str | os.PathLike | None = None,
    val_split: str = "train",
) -> ProxyData:
    """A class-balanced subset of `source`'s training split, split into proxy train / val.

    `seed` draws the images; `folder_size`: side in pixels at which images of image folders
    are stored (resized shorter side, centre crop); Fashion-MNIST stays at 28, Downsampled
    ImageNet at its 32 or 64. `classes`: a count or names (`--classes`; default all).
    `workers`: processes decoding a folder's images (default: the cores available).
    `skip_bad_images`: leave out images that cannot be decoded (default: stop, naming one).
    `cache_dir`: the cache folder (default `nas.data.cache.cache_root()`).
    `val_split`: "train" holds the validation images out of the training split; "val" draws
    them from the data's own validation split instead (a reference's judgement, never a
    search's selection).
    """
    if isinstance(source, str):
        source = DataSource.parse(source)
    classes = parse_classes(classes)
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    kind = source.spec
    draw = Draw(
        train_images=train_images,
        val_images=val_images,
        val_split=val_split,
        classes=classes,
        gen=gen,
        folder_size=kind.stored_size or folder_size,
        workers=workers or available_cores(),
        skip_bad_images=skip_bad_images,
        cache_dir=cache_dir,
    )
    data = kind.proxy(source, draw)
    if classes is not None:
        data.name = f"{data.name} ({describe(classes)})"
    for name in ("train_x", "train_y", "val_x", "val_y"):
        setattr(data, name, getattr(data, name).to(device))
    return data


def balanced_split(
    labels: torch.Tensor, n_train: int, n_val: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint index sets with (as near as possible) equal counts per class."""
    classes = labels.unique()
    need = n_train + n_val
    if need > len(labels):
        raise ConfigError(
            f"the proxy asks for {n_train} + {n_val} images but the training split "
            f"holds {len(labels)}",
            field="proxy",
        )
    per_class = [torch.nonzero(labels == c).flatten() for c in classes]
    per_class = [idx[torch.randperm(len(idx), generator=gen)] for idx in per_class]
    # Deal the classes round-robin so any prefix is balanced, then cut train | val.
    order = torch.stack([idx[: min(len(i) for i in per_class)] for idx in per_class], 1).flatten()
    if len(order) < need:
        raise ConfigError(
            f"the smallest class has too few images for {need} balanced proxy images",
            field="proxy",
        )
    train, val = order[:n_train], order[n_train:need]
    return train[torch.randperm(len(train), generator=gen)], val


def draw_split(
    train_labels: torch.Tensor,
    val_labels: torch.Tensor | None,
    *,
    train_images: int,
    val_images: int,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices into `train_labels`, val indices into `val_labels`), class-balanced;
    with `val_labels` None both are drawn, disjoint, from `train_labels`."""
    if val_labels is None:
        return balanced_split(train_labels, train_images, val_images, gen)
    train_idx, _ = balanced_split(train_labels, train_images, 0, gen)
    val_idx, _ = balanced_split(val_labels, val_images, 0, gen)
    return train_idx, val_idx.sort().values


def restrict(
    labels: torch.Tensor, keep: list[int], num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(items, labels) of the kept classes, relabelled 0..len(keep)-1 in `keep`'s order."""
    if len(keep) == num_classes:
        return torch.arange(len(labels)), labels
    lookup = torch.full((num_classes,), -1, dtype=torch.long)
    lookup[torch.tensor(keep)] = torch.arange(len(keep))
    relabelled = lookup[labels]
    items = torch.nonzero(relabelled >= 0).flatten()
    return items, relabelled[items]


def decoded_images(
    source: DataSource,
    paths: list[str],
    *,
    size: int,
    workers: int,
    cache_dir: str | os.PathLike | None,
) -> CachedArray:
    """The images `paths` at `size` (N, 3, size, size), from the cache or decoded into it.
    Keyed by the source, the drawn files (sorted names, sizes, mtimes), the decoder and its
    settings, the size and the drawn order, so a changed file is a new entry."""
    assert source.path is not None
    root = source.path
    stats = file_stats(paths, root=root)
    position = {name: k for k, (name, _, _) in enumerate(stats)}
    prefix = len(os.path.join(root, ""))
    order = [position[p[prefix:]] for p in paths]
    shape = (len(paths), 3, size, size)
    doc = {
        "kind": "image-folder",
        "source": str(root.resolve()),
        "size": size,
        "decoder": decoder_settings(),
        "files": stats,
        "drawn": order,
    }

    def build(tmp: Path) -> dict:
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape).flush()
        log.info(
            "proxy data: decoding %d images of %s at %dpx with %d process(es) into the "
            "cache (once; later runs map it)",
            len(paths),
            source,
            size,
            workers,
        )
        bad = decode_files(paths, out=tmp, size=size, workers=workers)
        return {"bad": [asdict(b) for b in bad], "workers": workers}

    entry = cached_array(
        doc,
        build=build,
        shape=shape,
        root=cache_dir,
        describe={
            "what": "proxy images",
            "source": str(source),
            "images": len(paths),
            "size": size,
        },
    )
    log_entry(entry, len(paths))
    return entry


def log_entry(entry: CachedArray, images: int) -> None:
    if entry.built:
        seconds = entry.index["build_seconds"]
        log.info(
            "proxy data: %d images in %.1f s (%.0f images/s) -> %s",
            images,
            seconds,
            images / max(seconds, 1e-9),
            entry.path,
        )
    else:
        log.info("proxy data: %d images from the cache %s", images, entry.path)


def without_bad(
    entry: CachedArray, y: torch.Tensor, n_train: int, *, skip: bool
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The images and labels without the rows that could not be decoded, and the new
    n_train; an error naming the first such file unless `skip`."""
    x = torch.from_numpy(entry.array)
    bad = entry.index.get("bad") or []
    if not bad:
        return x, y, n_train
    first, meta = bad[0], entry.path.with_suffix(".json")
    more = (
        (
            f"; {len(bad) - 1} more of the {len(y)} drawn images cannot be read either "
            f"(listed in {meta})"
        )
        if len(bad) > 1
        else ""
    )
    if not skip:
        raise ConfigError(
            f"cannot decode this image ({first['reason']}){more}; pass "
            f"--skip-bad-images to leave unreadable images out",
            source=first["path"],
        )
    log.warning(
        "proxy data: left out %d unreadable image(s) of %d (first: %s: %s; all listed in %s)",
        len(bad),
        len(y),
        first["path"],
        first["reason"],
        meta,
    )
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[[b["position"] for b in bad]] = False
    n_train -= sum(b["position"] < n_train for b in bad)
    return x[keep], y[keep], n_train
