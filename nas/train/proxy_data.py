"""Proxy data: a small class-balanced subset of a data set, held as uint8 tensors on the device.

The proxy's validation images are held out from the *training* split, disjoint from the proxy's
training images: architecture selection never looks at the official validation/test split,
which stays clean for the final report of the full training. Images stay uint8 at their stored
size; each batch is converted, resized to the candidate's resolution and normalised on the
device (no DataLoader: the whole subset is resident).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from nas.space import ConfigError

from .data import IMAGE_EXTENSIONS, DataSource, check_image_folder, load_fashion_mnist

FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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
) -> ProxyData:
    """A class-balanced subset of `source`'s training split, split into proxy train / val.

    `folder_size`: side in pixels at which images of image folders are stored (resized shorter
    side, centre crop); Fashion-MNIST stays at 28.
    """
    if isinstance(source, str):
        source = DataSource.parse(source)
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    if source.kind == "fashion-mnist":
        x, y = load_fashion_mnist("train")
        train_idx, val_idx = balanced_split(y, train_images, val_images, gen)
        data = ProxyData(
            x[train_idx],
            y[train_idx],
            x[val_idx],
            y[val_idx],
            10,
            FASHION_MNIST_MEAN,
            FASHION_MNIST_STD,
            str(source),
        )
    else:
        data = _load_folder(
            source.path,
            train_images=train_images,
            val_images=val_images,
            gen=gen,
            size=folder_size,
            name=str(source),
        )
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


def _load_folder(
    root: Path | None,
    *,
    train_images: int,
    val_images: int,
    gen: torch.Generator,
    size: int,
    name: str,
) -> ProxyData:
    if root is None:
        raise ConfigError("a folder data source needs a path", field="--data")
    classes = check_image_folder(root, splits=("train",))  # val/ is nas-train's, not ours
    files: list[Path] = []
    labels: list[int] = []
    for k, c in enumerate(classes):
        found = sorted(
            p for p in (root / "train" / c).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
        )
        files += found
        labels += [k] * len(found)
    y = torch.tensor(labels)
    train_idx, val_idx = balanced_split(y, train_images, val_images, gen)
    return ProxyData(
        _decode([files[i] for i in train_idx], size),
        y[train_idx],
        _decode([files[i] for i in val_idx], size),
        y[val_idx],
        len(classes),
        IMAGENET_MEAN,
        IMAGENET_STD,
        name,
    )


def _decode(paths: list[Path], size: int) -> torch.Tensor:
    """RGB uint8 (N, 3, size, size): shorter side resized to `size`, centre crop."""
    from PIL import Image

    out = torch.empty(len(paths), 3, size, size, dtype=torch.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                scale = size / min(im.size)
                w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
                im = im.resize((w, h), Image.BILINEAR)
                left, top = (w - size) // 2, (h - size) // 2
                im = im.crop((left, top, left + size, top + size))
                out[i] = (
                    torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
                    .view(size, size, 3)
                    .permute(2, 0, 1)
                )
        except OSError as e:
            raise ConfigError(f"cannot read image: {e}", source=str(path)) from None
    return out
