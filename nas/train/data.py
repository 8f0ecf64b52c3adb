"""Where images come from: Fashion-MNIST (Debian's package), ImageNet-layout folders,
Downsampled ImageNet (Chrabaszcz et al. 2017).

`--data fashion-mnist | imagenet:PATH | folder:PATH | imagenet32:PATH | imagenet64:PATH`.
Folders use ImageNet's layout: `PATH/train/<class>/*.JPEG` and `PATH/val/<class>/*.JPEG`
(`folder:` accepts any image extension torchvision reads). `imagenet32:`/`imagenet64:` read the
batches `train_data_batch_1..10` and `val_data` (`.npz`, or the original pickles) in PATH or
one folder below it (`nas.train.downsampled`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nas.space import ConfigError

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
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


DOWNSAMPLED_KINDS = {"imagenet32": 32, "imagenet64": 64}  # kind -> side of the stored images
# Folders of small images, stored at their own size (upsampled per batch, never in the cache)
NATIVE_SIZE = {"cifar10": 32, "cifar100": 32}
PATH_KINDS = ("imagenet", "folder", *DOWNSAMPLED_KINDS, *NATIVE_SIZE)


@dataclass(frozen=True)
class DataSource:
    kind: str  # fashion-mnist | imagenet | folder | imagenet32 | imagenet64 | cifar10 | cifar100
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> DataSource:
        if text in ("fashion-mnist", "fashion_mnist", "fmnist"):
            return cls("fashion-mnist", None)
        kind, sep, path = text.partition(":")
        if sep and kind in PATH_KINDS and path:
            return cls(kind, Path(path).expanduser())
        raise ConfigError(
            f"cannot read {text!r}; expected fashion-mnist, imagenet:PATH, "
            f"folder:PATH, imagenet32:PATH, imagenet64:PATH, cifar10:PATH or cifar100:PATH",
            field="--data",
        )

    @property
    def downsampled(self) -> bool:
        """Downsampled ImageNet: arrays of images already at their stored size."""
        return self.kind in DOWNSAMPLED_KINDS

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


def data_identity(text: str) -> str:
    """What a `--data` spelling stands for, as runs and studies record it: the kind and the
    set of file names under its folder (`cifar10:cifar10@1a2b3c4d`), not the path typed, so
    `~/x`, `./x` and `/abs/x` are one source and a moved copy of the same files is the same
    data. File contents are not read (a cached decode is keyed by sizes and times instead)."""
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
    return f"{kind}:{os.path.basename(root)}@{digest}"


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
    root = Path(root or FASHION_MNIST_DIR)
    images_name, labels_name = _FASHION_FILES[split]
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


def list_class_folders(split_dir: Path, *, source: Path) -> list[str]:
    """The sorted class folder names of `split_dir`, from one listing (no stat per entry)."""
    if not split_dir.is_dir():
        raise ConfigError(
            f"missing the {split_dir.name}/ folder (expected {split_dir.name}/<class>/<image>)",
            source=str(source),
        )
    with os.scandir(split_dir) as entries:
        found = sorted(e.name for e in entries if e.is_dir())
    if not found:
        raise ConfigError(
            f"{split_dir.name}/ has no class folders (expected {split_dir.name}/<class>/<image>)",
            source=str(source),
        )
    return found


def list_images(class_dir: Path, *, source: Path) -> list[str]:
    """The sorted image file names in one class folder: names only, never a stat per file
    (a million-file folder on a network disk would take minutes)."""
    with os.scandir(class_dir) as entries:
        names = sorted(e.name for e in entries if e.name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise ConfigError(
            f"{class_dir.parent.name}/{class_dir.name}/ holds no images", source=str(source)
        )
    return names


def check_image_folder(root: Path, splits: tuple[str, ...] = ("train", "val")) -> list[str]:
    """The class names of an ImageNet-layout folder; a clear error naming what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError("data folder not found", source=str(root))
    classes: list[str] | None = None
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            raise ConfigError(
                f"missing the {split}/ folder (expected {split}/<class>/<image>)", source=str(root)
            )
        found = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
        if not found:
            raise ConfigError(
                f"{split}/ has no class folders (expected {split}/<class>/<image>)",
                source=str(root),
            )
        for name in found:
            if not any(p.suffix.lower() in IMAGE_EXTENSIONS for p in (split_dir / name).iterdir()):
                raise ConfigError(f"{split}/{name}/ holds no images", source=str(root))
        if classes is not None and found != classes:
            missing = sorted(set(classes) ^ set(found))
            raise ConfigError(
                f"train/ and {split}/ have different classes: {', '.join(missing[:5])}",
                source=str(root),
            )
        classes = found
    return classes or []
