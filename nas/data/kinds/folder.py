"""Image folders in ImageNet's layout (`--data imagenet:PATH` or `folder:PATH`):
`PATH/train/<class>/<image>` and `PATH/val/<class>/<image>`, any format PIL reads. The proxy
decodes its drawn images once into the cache, resized to the proxy's storage size."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.space import ConfigError

from ..classes import Classes, select_classes
from ..files import check_image_folder, list_class_folders
from ..registry import DataKind, Draw, register

if TYPE_CHECKING:  # imported where used: the registry reads this module without torch
    from ..proxy import ProxyData


def folder_proxy(source: Any, draw: Draw) -> ProxyData:
    """The drawn images of `train/` (and of `val/` with `val_split` "val"), decoded once into
    the cache. Only the chosen classes' folders are listed, and only drawn files stat()ed."""
    import torch

    from ..files import listed
    from ..proxy import ProxyData, decoded_images, without_bad

    root: Path = source.path
    if root is None or not root.is_dir():
        raise ConfigError("data folder not found", source=str(root))
    names = list_class_folders(root / "train", source=root)
    keep = [names[i] for i in select_classes(names, draw.classes, source=str(source))]
    own_val = draw.val_split == "val"
    files, y = listed(root, "train", keep)
    vfiles, vy = listed(root, "val", keep) if own_val else (files, y)
    train_idx, val_idx = draw.indices(y, vy)
    paths = [files[i] for i in train_idx.tolist()] + [vfiles[i] for i in val_idx.tolist()]
    entry = decoded_images(
        source, paths, size=draw.folder_size, workers=draw.workers, cache_dir=draw.cache_dir
    )
    drawn_y = torch.cat([y[train_idx], vy[val_idx]])
    x, y, n_train = without_bad(entry, drawn_y, len(train_idx), skip=draw.skip_bad_images)
    return ProxyData.drawn(source, x, y, n_train, num_classes=len(keep), entry=entry)


def folder_full(source: Any, *, train_tf: Any, val_tf: Any, classes: Classes) -> tuple:
    from ..datasets import ClassFolder

    names = check_image_folder(source.path)
    kept = [names[i] for i in select_classes(names, classes, source=str(source))]
    train = ClassFolder(str(source.path / "train"), classes=kept, transform=train_tf)
    val = ClassFolder(str(source.path / "val"), classes=kept, transform=val_tf)
    return train, val, kept


for _name, _about in (
    ("imagenet", "an ImageNet folder, train/<wnid>/*.JPEG and val/<wnid>/*.JPEG"),
    ("folder", "any folder in ImageNet's layout, train/<class>/ and val/<class>/"),
):
    register(DataKind(_name, _about, proxy=folder_proxy, full=folder_full))
