from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas.data import DataSource
from nas.data.files import check_image_folder
from nas.data.kinds.fashion_mnist import load_fashion_mnist
from nas.space import ConfigError
from nas.train.device import pick_device
from tests.helpers import needs_fmnist


def test_data_source_parsing():
    assert DataSource.parse("fashion-mnist").kind == "fashion-mnist"
    src = DataSource.parse("imagenet:/data/in1k")
    assert src.kind == "imagenet" and src.path == Path("/data/in1k")
    assert str(DataSource.parse("folder:/x")) == "folder:/x"
    with pytest.raises(ConfigError, match="expected fashion-mnist, imagenet:PATH"):
        DataSource.parse("cifar10")


@needs_fmnist
def test_fashion_mnist_from_the_debian_package():
    x, y = load_fashion_mnist("val")
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (10_000,) and set(y.unique().tolist()) == set(range(10))
    assert 0 < x.float().mean() < 255


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(ConfigError, match="apt-get install -y dataset-fashion-mnist"):
        load_fashion_mnist("train", root=tmp_path)


def _make_folder(root: Path, classes=("n01", "n02"), splits=("train", "val")) -> None:
    from PIL import Image

    for split in splits:
        for c in classes:
            (root / split / c).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(root / split / c / "a.JPEG")


def test_image_folder_layout(tmp_path):
    _make_folder(tmp_path)
    assert check_image_folder(tmp_path) == ["n01", "n02"]


@pytest.mark.parametrize(
    "breakage, words",
    [
        (lambda r: __import__("shutil").rmtree(r / "val"), "missing the val/ folder"),
        (lambda r: (r / "val" / "n02" / "a.JPEG").unlink(), "val/n02/ holds no images"),
        (lambda r: (r / "val" / "n02").rename(r / "val" / "n03"), "different classes"),
    ],
)
def test_broken_image_folders_name_what_is_missing(tmp_path, breakage, words):
    _make_folder(tmp_path)
    breakage(tmp_path)
    with pytest.raises(ConfigError, match=words):
        check_image_folder(tmp_path)


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="--device"):
        pick_device("tpu:0")
