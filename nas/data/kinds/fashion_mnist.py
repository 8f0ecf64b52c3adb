"""Fashion-MNIST from Debian's `dataset-fashion-mnist` (`--data fashion-mnist`): the data a
fresh machine can install. IDX files in /usr/share/datasets/fashion-mnist (or
$NAS_FASHION_MNIST_DIR); 60,000 training and 10,000 test images of 28x28, one channel."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.space import ConfigError

from ..classes import Classes, select_classes
from ..registry import DataKind, Draw, register

# torch and what needs it are imported where used: the registry (and so every command's
# --help and dry run) reads this module without loading torch
if TYPE_CHECKING:
    import torch

    from ..proxy import ProxyData

FASHION_MNIST_DIR = Path(
    os.environ.get("NAS_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def fashion_mnist_missing_help(root: Path) -> str:
    return (
        f"Fashion-MNIST not found in {root}; install it with "
        f"`sudo apt-get install -y dataset-fashion-mnist` (Debian/Ubuntu) or point "
        f"NAS_FASHION_MNIST_DIR at a folder holding the four IDX .gz files"
    )


def load_fashion_mnist(
    split: str = "train", root: Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 1, 28, 28), labels int64 (N,)); split is train (60k) or val (10k)."""
    import torch

    root = Path(root or FASHION_MNIST_DIR)
    images_name, labels_name = _FILES[split]
    if not (root / images_name).exists() or not (root / labels_name).exists():
        raise ConfigError(fashion_mnist_missing_help(root), field="--data")
    images = _read_idx(root / images_name, header=16).reshape(-1, 1, 28, 28)
    labels = _read_idx(root / labels_name, header=8)
    if len(images) != len(labels):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels", source=str(root))
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _read_idx(path: Path, *, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=header)


def _proxy(source: Any, draw: Draw) -> ProxyData:
    from ..proxy import ProxyData, restrict

    name, val_split = str(source), draw.val_split
    keep = select_classes(FASHION_MNIST_CLASSES, draw.classes, source=name)
    splits = {s: load_fashion_mnist(s) for s in {"train", val_split}}
    kept = {s: restrict(y, keep, len(FASHION_MNIST_CLASSES)) for s, (_, y) in splits.items()}
    (items, y), (vitems, vy) = kept["train"], kept[val_split]
    train_idx, val_idx = draw.indices(y, vy)
    return ProxyData(
        splits["train"][0][items[train_idx]],
        y[train_idx],
        splits[val_split][0][vitems[val_idx]],
        vy[val_idx],
        len(keep),
        FASHION_MNIST_MEAN,
        FASHION_MNIST_STD,
        name,
    )


def _full(source: Any, *, train_tf: Any, val_tf: Any, classes: Classes) -> tuple:
    from ..datasets import TensorImages, keep_classes

    keep = select_classes(FASHION_MNIST_CLASSES, classes, source=str(source))
    train, val = (keep_classes(*load_fashion_mnist(split), keep) for split in ("train", "val"))
    names = [FASHION_MNIST_CLASSES[i] for i in keep]
    return TensorImages(*train, train_tf), TensorImages(*val, val_tf), names


register(
    DataKind(
        "fashion-mnist",
        "Debian's dataset-fashion-mnist, the fresh-machine default",
        proxy=_proxy,
        full=_full,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
        takes_path=False,
        aliases=("fashion_mnist", "fmnist"),
        stored_size=28,
    )
)
