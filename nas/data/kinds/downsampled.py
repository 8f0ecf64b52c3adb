"""Downsampled ImageNet (Chrabaszcz, Loshchilov & Hutter 2017): `--data imagenet64:PATH`.

The data set many NAS papers train their proxies on: ImageNet's 1.28M training images at 32x32
or 64x64 in 10 batches `train_data_batch_1..10` and one `val_data` (the official validation
set), each `.npz` (arrays `data`, `labels`, `mean`) or the original pickle of the same dict.
`data` is (N, 3*S*S) uint8, one image per row, channel-planar (all red, then green, then blue,
each row-major); `labels` are 1..1000 in the order of ILSVRC's `map_clsloc.txt` (n02119789 is
1), not the sorted wnids of the folder layout. With `map_clsloc.txt` next to the batches the
classes are named by wnid, so `--classes` chooses the same classes as in an ImageNet folder;
without it they are named by label id.

A stored (uncompressed) `.npz` member is memory-mapped in place, so drawing 60,000 rows reads
those rows, not 16 GB; a compressed one or a pickle is read whole, once, when the cache is
built. The labels of the training batches are cached too (`nas.data.cache`): later runs read
no batch at all.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.space import ConfigError

from ..cache import CachedArray, cached_array, file_stats
from ..classes import Classes, select_classes
from ..registry import DataKind, Draw, register
from ..safe_pickle import load_batch

if TYPE_CHECKING:  # imported where used: the registry reads this module without torch
    from ..proxy import ProxyData

SIDES = {"imagenet32": 32, "imagenet64": 64}  # kind -> side of the stored images
NUM_CLASSES = 1000
MAP_FILE = "map_clsloc.txt"
_BATCH = {
    "train": re.compile(r"^train_data_batch_(\d+)(\.npz)?$"),
    "val": re.compile(r"^val_data(\.npz)?$"),
}


@dataclass(frozen=True)
class Batches:
    """One split of a Downsampled ImageNet folder: its batch files, in order."""

    root: Path
    side: int  # S: images are 3 x S x S
    files: tuple[Path, ...]

    @property
    def row_bytes(self) -> int:
        return 3 * self.side * self.side

    def stats(self) -> list[list[Any]]:
        return file_stats(list(self.files), root=self.root)


def find_batches(root: Path, *, side: int, split: str = "train") -> Batches:
    """The batch files of `split` in `root` or one folder below (the archives unpack into
    `Imagenet64_train_npz/` and `Imagenet64_val_npz/`)."""
    if not root.is_dir():
        raise ConfigError("data folder not found", source=str(root))
    pattern = _BATCH[split]
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        found = [(m, p) for p in folder.iterdir() if (m := pattern.match(p.name))]
        if found:
            order = sorted(found, key=lambda mp: int(mp[0][1]) if split == "train" else 0)
            return Batches(root, side, tuple(p for _, p in order))
    expected = "train_data_batch_1..10[.npz]" if split == "train" else "val_data[.npz]"
    raise ConfigError(
        f"no Downsampled ImageNet batches (expected {expected} in this folder or one below it)",
        source=str(root),
    )


# --- reading one batch --------------------------------------------------------------------------


def read_labels(path: Path, *, side: int) -> np.ndarray:
    """A batch's labels (1-based, int16), checked against its `data` array's shape."""
    if path.suffix == ".npz":
        try:
            with np.load(path) as z:
                _require(z.files, path)
                labels = z["labels"]
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise ConfigError(f"cannot read its labels ({e})", source=str(path)) from None
        shape, dtype = _npz_member_header(path, "data")
    else:
        batch = _unpickle(path)
        data, labels = batch["data"], batch["labels"]
        shape, dtype = np.shape(data), np.asarray(data[:0]).dtype
    _check_data(path, shape, dtype, side)
    return _check_labels(path, labels, rows=shape[0])


def read_rows(path: Path, *, side: int) -> np.ndarray:
    """A batch's (N, 3*S*S) uint8 `data`: memory-mapped when stored uncompressed."""
    if path.suffix == ".npz":
        data = _npz_memmap(path, "data")
        if data is None:
            with np.load(path) as z:
                data = z["data"]
    else:
        data = np.asarray(_unpickle(path)["data"])
    _check_data(path, data.shape, data.dtype, side)
    return data


def _check_data(path: Path, shape: tuple[int, ...], dtype: np.dtype, side: int) -> None:
    width = 3 * side * side
    if len(shape) != 2 or shape[1] != width or dtype != np.uint8:
        raise ConfigError(
            f"expected (N, {width}) uint8 rows (3x{side}x{side} images, "
            f"channel-planar), got shape {tuple(shape)} {dtype}",
            field="data",
            source=str(path),
        )


def _check_labels(path: Path, labels: Any, *, rows: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (rows,) or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            f"expected {rows} integer labels (one per row of data), got shape "
            f"{labels.shape} {labels.dtype}",
            field="labels",
            source=str(path),
        )
    low, high = (int(labels.min()), int(labels.max())) if rows else (1, 1)
    if low < 1 or high > NUM_CLASSES:
        raise ConfigError(
            f"expected labels in 1..{NUM_CLASSES} (Downsampled ImageNet counts "
            f"classes from 1), got {low}..{high}",
            field="labels",
            source=str(path),
        )
    return labels.astype(np.int16)


def _require(names: list[str], path: Path) -> None:
    missing = [n for n in ("data", "labels") if n not in names]
    if missing:
        raise ConfigError(
            f"no {' or '.join(missing)} array (expected data and labels, as in "
            f"Downsampled ImageNet's npz batches)",
            source=str(path),
        )


def _npz_member_header(path: Path, name: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(f"{name}.npy") as f:
            shape, _, dtype = _read_npy_header(f)
    except (KeyError, zipfile.BadZipFile, ValueError) as e:
        raise ConfigError(f"cannot read its {name} array ({e})", source=str(path)) from None
    return shape, dtype


def _read_npy_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    return read(f)


def _npz_memmap(path: Path, name: str) -> np.ndarray | None:
    """A member of an uncompressed npz as a read-only memory map of the npz file itself
    (numpy maps .npy files but not npz members); None when the member is compressed."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with zf.open(info) as f:
            shape, fortran, dtype = _read_npy_header(f)
            header = f.tell()
    with open(path, "rb") as raw:  # the local file header's own lengths (not the directory's)
        raw.seek(info.header_offset)
        fixed = raw.read(30)
    name_len, extra_len = struct.unpack("<HH", fixed[26:30])
    offset = info.header_offset + 30 + name_len + extra_len + header
    return np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


def _unpickle(path: Path) -> dict[str, Any]:
    batch = load_batch(
        path,
        expected="a Downsampled ImageNet batch (.npz, or the pickle of a dict of data and labels)",
    )
    _require(list(batch), path)
    return batch


# --- a split as a whole -------------------------------------------------------------------------


def split_labels(batches: Batches, *, root: str | None = None) -> CachedArray:
    """Every label of a split (1-based int16), in batch order: from the cache after the first
    reading of the batches."""

    def build(tmp: Path) -> dict[str, Any]:
        labels = [read_labels(p, side=batches.side) for p in batches.files]
        np.save(tmp, np.concatenate(labels))
        return {"rows_per_file": [len(x) for x in labels]}

    doc = {
        "kind": "downsampled-labels",
        "source": str(batches.root.resolve()),
        "side": batches.side,
        "files": batches.stats(),
    }
    return cached_array(
        doc,
        build=build,
        dtype=np.int16,
        root=root,
        describe={"what": "labels", "source": str(batches.root), "images": None},
    )


def class_names(root: Path, present: np.ndarray) -> tuple[list[int], list[str], dict[str, str]]:
    """The label ids present, their names in the same order, and aliases (id -> name). With
    `map_clsloc.txt` (in `root` or a folder below) the names are wnids and the classes are in
    wnid order, as in an ImageNet folder (so labels and `--classes` agree with one); without
    it the names are the ids, in numeric order."""
    ids = sorted(int(i) for i in present)
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        path = folder / MAP_FILE
        if path.is_file():
            wnid = {}
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    wnid[int(parts[1])] = parts[0]
            missing = [i for i in ids if i not in wnid]
            if missing:
                raise ConfigError(f"names no class for label(s) {missing[:5]}", source=str(path))
            ids.sort(key=lambda i: wnid[i])
            return ids, [wnid[i] for i in ids], {str(i): wnid[i] for i in ids}
    return ids, [str(i) for i in ids], {}


def gather_rows(
    batches: Batches, rows: np.ndarray, rows_per_file: list[int], *, out: np.ndarray
) -> None:
    """out[k] = image `rows[k]` of the split (global row numbers), as (3, S, S)."""
    starts = np.cumsum([0, *rows_per_file])
    for f, path in enumerate(batches.files):
        want = np.nonzero((rows >= starts[f]) & (rows < starts[f + 1]))[0]
        if len(want) == 0:
            continue
        local = rows[want] - starts[f]
        order = np.argsort(local)  # ascending reads of the mapped file
        data = read_rows(path, side=batches.side)
        out[want[order]] = data[local[order]].reshape(-1, 3, batches.side, batches.side)
        del data


@dataclass(frozen=True)
class LabelledSplit:
    batches: Batches
    labels: CachedArray  # 1-based ids, every row of the split
    relabelled: np.ndarray  # int64 per row: 0..len(names)-1, or -1 for a class left out
    names: list[str]  # the kept classes, in label order
    ids: list[int]  # their 1-based ids in the batches

    @property
    def items(self) -> np.ndarray:
        """Rows of the kept classes."""
        return np.nonzero(self.relabelled >= 0)[0]


def labelled_split(
    source: Any,
    *,
    split: str = "train",
    classes: Any = None,
    root: str | None = None,
    names_from: LabelledSplit | None = None,
) -> LabelledSplit:
    """A split's rows labelled 0..K-1 for the kept classes (`--classes`; wnid order with
    `map_clsloc.txt`, else id order). `names_from`: label as that split does (val as train)."""
    batches = find_batches(source.path, side=SIDES[source.kind], split=split)
    labels = split_labels(batches, root=root)
    if names_from is None:
        ids, names, aliases = class_names(source.path, np.unique(labels.array))
        keep = select_classes(names, classes, source=str(source), aliases=aliases)
        kept_ids, kept = [ids[i] for i in keep], [names[i] for i in keep]
    else:
        kept_ids, kept = names_from.ids, names_from.names
    lookup = np.full(NUM_CLASSES + 1, -1, dtype=np.int64)
    lookup[kept_ids] = np.arange(len(kept_ids))
    return LabelledSplit(batches, labels, lookup[labels.array], kept, kept_ids)


def cached_rows(
    source: Any, part: LabelledSplit, rows: np.ndarray, *, root: str | None = None
) -> CachedArray:
    """Images `rows` of a split as (N, 3, S, S) uint8, gathered once into the cache."""
    side = part.batches.side
    shape = (len(rows), 3, side, side)

    def build(tmp: Path) -> dict[str, Any]:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        gather_rows(part.batches, rows, part.labels.index["rows_per_file"], out=out)
        out.flush()
        return {}

    doc = {
        "kind": "downsampled",
        "source": str(source.path.resolve()),
        "side": side,
        "files": part.batches.stats(),
        "drawn": rows.tolist(),
    }
    return cached_array(
        doc,
        build=build,
        shape=shape,
        root=root,
        describe={"what": "images", "source": str(source), "images": len(rows), "size": side},
    )


# --- the kinds ------------------------------------------------------------------------------


def _proxy(source: Any, draw: Draw) -> ProxyData:
    """The drawn rows of the training batches (and of `val_data` with `val_split` "val"),
    gathered once into the cache."""
    import torch

    from ..proxy import ProxyData, log_entry

    cache_dir = draw.cache_dir
    part = labelled_split(source, classes=draw.classes, root=cache_dir)
    items = torch.from_numpy(part.items)
    y = torch.from_numpy(part.relabelled)[items]
    if draw.val_split == "train":
        train_idx, val_idx = draw.indices(y)
        drawn = torch.cat([train_idx, val_idx])
        entry = cached_rows(source, part, items[drawn].numpy(), root=cache_dir)
        x, y, n_train = torch.from_numpy(entry.array), y[drawn], len(train_idx)
    else:
        vpart = labelled_split(source, split="val", root=cache_dir, names_from=part)
        vitems = torch.from_numpy(vpart.items)
        vy = torch.from_numpy(vpart.relabelled)[vitems]
        train_idx, val_idx = draw.indices(y, vy)
        entry = cached_rows(source, part, items[train_idx].numpy(), root=cache_dir)
        val = cached_rows(source, vpart, vitems[val_idx].numpy(), root=cache_dir)
        x = torch.cat([torch.from_numpy(entry.array), torch.from_numpy(val.array)])
        y, n_train = torch.cat([y[train_idx], vy[val_idx]]), len(train_idx)
    log_entry(entry, len(y))
    return ProxyData.drawn(source, x, y, n_train, num_classes=len(part.names), entry=entry)


def _full(source: Any, *, train_tf: Any, val_tf: Any, classes: Classes) -> tuple:
    """Every row of the kept classes, train and val, each gathered once into the cache (a
    copy of the data set's rows, memory-mapped: DataLoader workers share its pages)."""
    import torch

    from ..datasets import TensorImages

    train = labelled_split(source, classes=classes)
    val = labelled_split(source, split="val", names_from=train)
    sets = []
    for part, transform in ((train, train_tf), (val, val_tf)):
        rows = part.items
        entry = cached_rows(source, part, rows)
        labels = torch.from_numpy(part.relabelled[rows])
        sets.append(TensorImages(torch.from_numpy(entry.array), labels, transform))
    return sets[0], sets[1], train.names


for _name, _side in SIDES.items():
    register(
        DataKind(
            _name,
            f"Downsampled ImageNet's train_data_batch_1..10 and val_data ({_side}x{_side})",
            proxy=_proxy,
            full=_full,
            stored_size=_side,
        )
    )
