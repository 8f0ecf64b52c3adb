"""Listing ImageNet-layout folders (`PATH/<split>/<class>/<image>`) without a stat per file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from nas.space import ConfigError

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


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


def listed(root: Path, split: str, classes: list[str]) -> tuple[list[str], torch.Tensor]:
    """The image paths of `split` in the classes' order and their labels (class positions).
    Strings: pathlib would cost seconds for a million files."""
    import torch

    if not (root / split).is_dir():
        raise ConfigError(
            f"missing the {split}/ folder (expected {split}/<class>/<image>)", source=str(root)
        )
    files: list[str] = []
    labels: list[int] = []
    for k, c in enumerate(classes):
        if not (root / split / c).is_dir():
            raise ConfigError(f"{split}/ has no folder of the class {c!r}", source=str(root))
        found = list_images(root / split / c, source=root)
        base = os.path.join(root, split, c, "")
        files += [base + f for f in found]
        labels += [k] * len(found)
    return files, torch.tensor(labels)


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
