"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): `--data cifar10:PATH`, `cifar100:PATH`.

PATH (or one folder below it, where the archives unpack) holds any of the layouts people
download: the python batches (`cifar-10-batches-py`: `data_batch_1..5`, `test_batch`,
`batches.meta`; `cifar-100-python`: `train`, `test`, `meta`), read through the restricted
unpickler (`nas.data.safe_pickle`); the binary batches (`cifar-10-batches-bin`:
`data_batch_1..5.bin`, `test_batch.bin`, `batches.meta.txt`; `cifar-100-binary`: `train.bin`,
`test.bin`, `fine_label_names.txt`), rows of label byte(s) and 3x32x32 channel-planar pixels;
or an ImageNet-layout folder of image files (`train/<class>/`, `val/<class>/`). The test split
is the data's `val`. Images stay at their native 32 px in every layout: a proxy at 64 px
upsamples each batch, and says so in its description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.space import ConfigError

from ..classes import Classes, select_classes
from ..registry import DataKind, Draw, register
from ..safe_pickle import load_batch
from .folder import folder_full, folder_proxy

if TYPE_CHECKING:  # imported where used: the registry reads this module without torch
    from ..proxy import ProxyData

SIDE = 32
PIXELS = 3 * SIDE * SIDE
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclass(frozen=True)
class Layout:
    """Where one layout keeps its files, for one of the two data sets."""

    name: str  # as the archive names its folder
    train: tuple[str, ...]
    val: tuple[str, ...]
    names_file: str
    binary: bool


LAYOUTS = {
    "cifar10": (
        Layout(
            "cifar-10-batches-py",
            tuple(f"data_batch_{i}" for i in range(1, 6)),
            ("test_batch",),
            "batches.meta",
            binary=False,
        ),
        Layout(
            "cifar-10-batches-bin",
            tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
            ("test_batch.bin",),
            "batches.meta.txt",
            binary=True,
        ),
    ),
    "cifar100": (
        Layout("cifar-100-python", ("train",), ("test",), "meta", binary=False),
        Layout("cifar-100-binary", ("train.bin",), ("test.bin",), "fine_label_names.txt", True),
    ),
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}


def find_layout(root: Path, kind: str) -> tuple[Layout, Path] | None:
    """The batch layout in `root` or one folder below, or None (then it is a folder)."""
    if not root.is_dir():
        raise ConfigError("data folder not found", source=str(root))
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        for layout in LAYOUTS[kind]:
            if all((folder / f).is_file() for f in (*layout.train, *layout.val)):
                return layout, folder
    return None


def read_split(
    folder: Path, layout: Layout, split: str, *, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of a split's batches."""
    parts = [
        (_read_binary if layout.binary else _read_python)(folder / f, kind=kind)
        for f in getattr(layout, split)
    ]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _read_python(path: Path, *, kind: str) -> tuple[np.ndarray, np.ndarray]:
    label_key = "labels" if kind == "cifar10" else "fine_labels"
    batch = load_batch(path, expected=f"a {kind} python batch (a dict of data and {label_key})")
    for key in ("data", label_key):
        if key not in batch:
            raise ConfigError(f"no {key!r} in this batch", field=key, source=str(path))
    data = np.asarray(batch["data"])
    if data.ndim != 2 or data.shape[1] != PIXELS or data.dtype != np.uint8:
        raise ConfigError(
            f"expected (N, {PIXELS}) uint8 rows (3x32x32 images, channel-planar), got "
            f"shape {data.shape} {data.dtype}",
            field="data",
            source=str(path),
        )
    labels = _check_labels(np.asarray(batch[label_key]), rows=len(data), kind=kind, path=path)
    return data.reshape(-1, 3, SIDE, SIDE), labels


def _read_binary(path: Path, *, kind: str) -> tuple[np.ndarray, np.ndarray]:
    label_bytes = 1 if kind == "cifar10" else 2  # CIFAR-100: coarse, then fine
    row = label_bytes + PIXELS
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) == 0 or len(raw) % row:
        raise ConfigError(
            f"{len(raw)} bytes is not a whole number of rows of {row} bytes ({label_bytes} "
            f"label byte(s) + 3x32x32 pixels): truncated, or not a {kind} binary batch",
            source=str(path),
        )
    rows = raw.reshape(-1, row)
    labels = _check_labels(rows[:, label_bytes - 1], rows=len(rows), kind=kind, path=path)
    return rows[:, label_bytes:].reshape(-1, 3, SIDE, SIDE), labels


def _check_labels(labels: np.ndarray, *, rows: int, kind: str, path: Path) -> np.ndarray:
    if labels.shape != (rows,) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            f"expected {rows} integer labels, one per image, got shape {labels.shape}",
            field="labels",
            source=str(path),
        )
    if rows and (labels.min() < 0 or labels.max() >= NUM_CLASSES[kind]):
        raise ConfigError(
            f"expected labels in 0..{NUM_CLASSES[kind] - 1}, got {labels.min()}..{labels.max()}",
            field="labels",
            source=str(path),
        )
    return labels.astype(np.int64)


def class_names(folder: Path, layout: Layout, *, kind: str) -> list[str]:
    """The label names the archive ships, else CIFAR-10's / numbers."""
    path = folder / layout.names_file
    names: list[str] = []
    if path.is_file() and layout.binary:
        names = [n.strip() for n in path.read_text().splitlines() if n.strip()]
    elif path.is_file():
        meta = load_batch(path, expected=f"the {kind} label names (a dict)")
        names = [
            str(n)
            for n in meta.get("label_names" if kind == "cifar10" else "fine_label_names", [])
        ]
    if len(names) == NUM_CLASSES[kind]:
        return names
    return list(CIFAR10_CLASSES) if kind == "cifar10" else [f"{i:02d}" for i in range(100)]


def _splits(source: Any, val_split: str, classes: Classes) -> tuple[dict, list[str]]:
    import torch

    from ..proxy import restrict

    layout, folder = find_layout(source.path, source.kind) or (None, None)
    assert layout is not None and folder is not None
    names = class_names(folder, layout, kind=source.kind)
    keep = select_classes(names, classes, source=str(source))
    out = {}
    for split in {"train", val_split}:
        x, y = read_split(folder, layout, split, kind=source.kind)
        items, y = restrict(torch.from_numpy(y), keep, len(names))
        out[split] = (torch.from_numpy(x), items, y)
    return out, [names[i] for i in keep]


def _proxy(source: Any, draw: Draw) -> ProxyData:
    from ..proxy import ProxyData

    kind = source.spec
    if find_layout(source.path, source.kind) is None:
        return folder_proxy(source, draw)
    val_split = draw.val_split
    splits, names = _splits(source, val_split, draw.classes)
    (x, items, y), (vx, vitems, vy) = splits["train"], splits[val_split]
    train_idx, val_idx = draw.indices(y, vy)
    return ProxyData(
        x[items[train_idx]],
        y[train_idx],
        vx[vitems[val_idx]],
        vy[val_idx],
        len(names),
        kind.mean,
        kind.std,
        str(source),
    )


def _full(source: Any, *, train_tf: Any, val_tf: Any, classes: Classes) -> tuple:
    if find_layout(source.path, source.kind) is None:
        return folder_full(source, train_tf=train_tf, val_tf=val_tf, classes=classes)
    from ..datasets import TensorImages

    splits, names = _splits(source, "val", classes)
    sets = [
        TensorImages(x[items], y, tf)
        for (x, items, y), tf in zip((splits["train"], splits["val"]), (train_tf, val_tf))
    ]
    return sets[0], sets[1], names


# Normalised with ImageNet's statistics, as every image source here (CIFAR-10's own differ by
# under 0.03), so a folder of CIFAR images and its batches are prepared alike.
for _kind, _name in (("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100")):
    register(
        DataKind(
            _kind,
            f"{_name}: its python or binary batches, or a folder of its images (32 px)",
            proxy=_proxy,
            full=_full,
            stored_size=SIDE,
        )
    )
