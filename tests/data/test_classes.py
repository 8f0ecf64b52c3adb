"""Class subsets: a seeded draw or a file, the same for every source naming the same classes."""

from __future__ import annotations

import pytest
import torch

from nas.data.classes import draw_classes, parse_classes, select_classes
from nas.data.proxy import load_proxy_data
from nas.space import ConfigError
from tests.helpers import needs_fmnist

from .test_downsampled import WNIDS, make_batches
from .test_proxy_cache import make_folder

NAMES = [f"n{i:08d}" for i in range(1000)]


def test_a_count_draws_the_same_classes_whatever_their_order():
    picked = draw_classes(NAMES, 100)
    assert len(set(picked)) == 100 and set(picked) <= set(NAMES)
    assert draw_classes(list(reversed(NAMES)), 100) == picked
    assert draw_classes(NAMES, 100, seed=1) != picked
    assert picked[:10] == draw_classes(NAMES, 10)  # a smaller draw is a prefix
    # not simply the first or last names in sorted order
    assert sorted(picked) != NAMES[:100] and sorted(picked) != NAMES[-100:]


def test_selection_keeps_the_source_order():
    names = ["b", "a", "c", "d"]
    assert select_classes(names, None, source="x") == [0, 1, 2, 3]
    assert select_classes(names, ("d", "b"), source="x") == [0, 3]
    assert select_classes(names, ("9",), source="x", aliases={"9": "c"}) == [2]
    with pytest.raises(ConfigError, match=r"--classes: 2 listed class\(es\) not in x: zz, yy"):
        select_classes(names, ("a", "zz", "yy"), source="x")
    with pytest.raises(ConfigError, match="--classes: asks for 5 classes but x has 4"):
        select_classes(names, 5, source="x")


def test_parsing_counts_and_files(tmp_path):
    assert parse_classes("100") == 100 and parse_classes(7) == 7 and parse_classes(None) is None
    listed = tmp_path / "in100.txt"
    listed.write_text("# ImageNet-100\nn01 1 tench\n\nn02   # a comment\n")
    assert parse_classes(str(listed)) == ("n01", "n02")
    listed.write_text("n01\nn01\n")
    with pytest.raises(ConfigError, match=r"in100.txt: --classes: classes listed twice: n01"):
        parse_classes(str(listed))
    listed.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="lists no classes"):
        parse_classes(str(listed))
    with pytest.raises(ConfigError, match=r"nope.txt: --classes: file not found"):
        parse_classes(str(tmp_path / "nope.txt"))
    with pytest.raises(ConfigError, match="at least 1 class"):
        parse_classes("0")


def test_a_folder_subset_lists_only_its_classes_and_relabels_them(tmp_path):
    root = make_folder(tmp_path / "f")
    data = load_proxy_data(
        f"folder:{root}",
        train_images=6,
        val_images=2,
        folder_size=16,
        classes=("n03", "n01"),
        workers=1,
    )
    assert data.num_classes == 2 and torch.bincount(data.train_y).tolist() == [3, 3]
    red = data.train_x[:, 0].float().mean((1, 2))
    assert red[data.train_y == 0].mean() < 20 and red[data.train_y == 1].mean() > 140  # n01, n03


def test_a_folder_and_downsampled_imagenet_draw_the_same_wnids(tmp_path):
    import numpy as np
    from PIL import Image

    for i, wnid in WNIDS.items():  # the same classes as the npz, red = 40 * id as well
        (tmp_path / "f" / "train" / wnid).mkdir(parents=True)
        for j in range(4):
            Image.new("RGB", (40, 40), (40 * i, 7, j)).save(
                tmp_path / "f" / "train" / wnid / f"{j}.png"
            )
    folder = load_proxy_data(
        f"folder:{tmp_path / 'f'}",
        train_images=6,
        val_images=2,
        folder_size=32,
        classes=3,
        workers=1,
    )
    npz = load_proxy_data(
        f"imagenet32:{make_batches(tmp_path / 'd', map_file=True)}",
        train_images=6,
        val_images=2,
        classes=3,
    )
    assert folder.num_classes == npz.num_classes == 3
    for k in range(3):  # label k: one class, the same wnid (red 40 * its id) in both sources
        red = [set(d.train_x[d.train_y == k, 0, 0, 0].tolist()) for d in (folder, npz)]
        assert len(red[0]) == 1 and red[0] == red[1]
    assert np.unique(folder.train_x[:, 0, 0, 0]).size == 3


@needs_fmnist
def test_fashion_mnist_subsets_and_the_unchanged_full_draw():
    data = load_proxy_data("fashion-mnist", train_images=40, val_images=20, classes=4)
    assert data.num_classes == 4 and torch.bincount(data.val_y).tolist() == [5] * 4
    full = load_proxy_data("fashion-mnist", train_images=40, val_images=20)
    assert full.num_classes == 10 and full.cache_path is None
