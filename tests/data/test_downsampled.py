"""Downsampled ImageNet batches (npz and pickle) as proxy data, and their errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data.kinds import downsampled as D
from nas.data.proxy import load_proxy_data
from nas.space import ConfigError

S = 32
WNIDS = {1: "n09", 2: "n02", 3: "n07", 4: "n01", 5: "n05"}  # map_clsloc order is not sorted


def image_rows(labels: np.ndarray, side: int = S) -> np.ndarray:
    """Channel-planar rows: red = 40 * label, green = 7, blue = the row's index mod 256."""
    rows = np.empty((len(labels), 3, side, side), dtype=np.uint8)
    rows[:, 0] = (40 * labels)[:, None, None]
    rows[:, 1] = 7
    rows[:, 2] = (np.arange(len(labels)) % 256)[:, None, None]
    return rows.reshape(len(labels), -1)


def make_batches(
    root: Path, *, kind: str = "npz", per_batch: int = 300, map_file: bool = False, side: int = S
) -> Path:
    """Two training batches (one stored, one compressed npz; or pickles) and val_data."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for name in ("train_data_batch_1", "train_data_batch_2", "val_data"):
        labels = rng.integers(1, 6, per_batch if name != "val_data" else 50)
        batch = {"data": image_rows(labels, side), "labels": labels.tolist()}
        if kind == "pickle":
            with open(root / name, "wb") as f:
                pickle.dump(batch, f)
        else:
            save = np.savez_compressed if name == "train_data_batch_2" else np.savez
            save(root / f"{name}.npz", **batch, mean=np.zeros(3 * side * side))
    if map_file:
        (root / D.MAP_FILE).write_text("".join(f"{w} {i} name_{i}\n" for i, w in WNIDS.items()))
    return root


def load(root: Path, **options) -> object:
    return load_proxy_data(
        f"imagenet32:{root}",
        train_images=options.pop("train_images", 100),
        val_images=options.pop("val_images", 50),
        **options,
    )


@pytest.mark.parametrize("kind", ["npz", "pickle"])
def test_rows_become_channel_planar_images_with_zero_based_labels(tmp_path, kind):
    data = load(make_batches(tmp_path / "d", kind=kind))
    assert data.train_x.shape == (100, 3, S, S) and data.val_x.shape == (50, 3, S, S)
    assert data.num_classes == 5 and torch.bincount(data.train_y).tolist() == [20] * 5
    # label k is id k + 1: red 40 * (k + 1); green all 7; each image one colour per plane
    assert torch.equal(data.train_x[:, 0, 0, 0].long(), 40 * (data.train_y + 1))
    assert (data.train_x[:, 1] == 7).all()
    assert (data.train_x[:, 2] == data.train_x[:, 2, :1, :1]).all()


def test_a_second_load_reads_the_cache_and_no_batch(tmp_path, monkeypatch):
    root = make_batches(tmp_path / "d")
    first = load(root)
    assert first.cache_built

    def no_reading(*args, **kwargs):
        raise AssertionError("read a batch again")

    monkeypatch.setattr(D, "read_rows", no_reading)
    monkeypatch.setattr(D, "read_labels", no_reading)
    second = load(root)
    assert not second.cache_built and torch.equal(second.train_x, first.train_x)


def test_a_changed_batch_is_read_again(tmp_path):
    root = make_batches(tmp_path / "d")
    first = load(root)
    with np.load(root / "train_data_batch_1.npz") as z:
        batch = dict(z)
    batch["data"][:, : S * S] = 3  # every red plane 3 now
    np.savez(root / "train_data_batch_1.npz", **batch)
    second = load(root)
    assert second.cache_built and second.cache_path != first.cache_path
    assert (second.train_x[:, 0] == 3).any() and not (first.train_x[:, 0] == 3).any()


def test_a_stored_npz_member_is_memory_mapped_in_place(tmp_path):
    root = make_batches(tmp_path / "d")
    mapped = D._npz_memmap(root / "train_data_batch_1.npz", "data")
    assert isinstance(mapped, np.memmap)
    with np.load(root / "train_data_batch_1.npz") as z:
        assert np.array_equal(mapped, z["data"])
    assert D._npz_memmap(root / "train_data_batch_2.npz", "data") is None  # compressed


def test_batches_one_folder_below_are_found(tmp_path):
    make_batches(tmp_path / "d" / "Imagenet32_train_npz")
    assert load(tmp_path / "d").train_x.shape == (100, 3, S, S)
    with pytest.raises(
        ConfigError,
        match=r"no Downsampled ImageNet batches \(expected "
        r"train_data_batch_1..10\[.npz\]",
    ):
        load(tmp_path)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda b: b.update(data=b["data"][:, :100]),
            r"train_data_batch_1.npz: data: expected \(N, 3072\) uint8 rows \(3x32x32 images, "
            r"channel-planar\), got shape \(300, 100\) uint8",
        ),
        (
            lambda b: b.update(labels=b["labels"] - 1),
            r"train_data_batch_1.npz: labels: expected labels in 1..1000 \(Downsampled ImageNet "
            r"counts classes from 1\), got 0..4",
        ),
        (
            lambda b: b.update(labels=b["labels"][:10]),
            r"labels: expected 300 integer labels \(one per row of data\), got shape \(10,\)",
        ),
        (lambda b: b.pop("labels"), r"train_data_batch_1.npz: no labels array"),
    ],
)
def test_a_malformed_npz_is_one_line_naming_file_and_expectation(tmp_path, change, expected):
    root = make_batches(tmp_path / "d")
    with np.load(root / "train_data_batch_1.npz") as z:
        batch = dict(z)
    change(batch)
    np.savez(root / "train_data_batch_1.npz", **batch)
    with pytest.raises(ConfigError, match=expected) as e:
        load(root)
    assert "\n" not in str(e.value)


def test_imagenet64_of_32px_rows_is_a_shape_error(tmp_path):
    root = make_batches(tmp_path / "d")
    with pytest.raises(ConfigError, match=r"expected \(N, 12288\) uint8 rows \(3x64x64"):
        load_proxy_data(f"imagenet64:{root}", train_images=10, val_images=5)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    root = tmp_path / "d"
    root.mkdir()
    (root / "train_data_batch_1").write_bytes(pickle.dumps({"data": Evil(), "labels": [1]}))
    with pytest.raises(ConfigError, match=r"refusing to load builtins\.print"):
        load(root)


def test_class_subsets_name_the_same_wnids_as_a_folder(tmp_path):
    """With map_clsloc.txt, classes are wnids in wnid order: the draw of 2 and a listed subset
    pick the same classes, with the same labels, as an ImageNet folder of those wnids."""
    from nas.data.classes import draw_classes

    root = make_batches(tmp_path / "d", map_file=True)
    data = load(root, classes=2, train_images=40, val_images=20)
    chosen = sorted(draw_classes(list(WNIDS.values()), 2))
    assert data.num_classes == 2 and "(2 classes)" in data.name
    id_of = {w: i for i, w in WNIDS.items()}
    for k, wnid in enumerate(chosen):  # label k is the k-th chosen wnid in sorted order
        assert (data.train_x[data.train_y == k, 0, 0, 0] == 40 * id_of[wnid]).all()
    listed = tmp_path / "classes.txt"
    listed.write_text(f"# two classes\n{chosen[1]}\n{id_of[chosen[0]]}\n")  # a wnid and an id
    same = load(root, classes=str(listed), train_images=40, val_images=20)
    assert torch.equal(same.train_x, data.train_x)
