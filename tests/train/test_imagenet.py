"""Datasets and resumable, sharded loaders for full training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.data import DataSource
from nas.data.datasets import TensorImages
from nas.space import ConfigError
from nas.train.distributed import DistContext
from nas.train.imagenet import (
    ImageData,
    load_image_data,
    micro_batches_per_epoch,
    train_loader,
    train_sampler,
    val_loader,
)
from nas.train.recipe import Recipe, eval_transform
from tests.helpers import needs_fmnist

CPU = torch.device("cpu")


def _ctx(rank: int = 0, world: int = 1) -> DistContext:
    return DistContext(rank, world, rank, CPU)


def _toy(n: int = 20) -> ImageData:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 8, 8).clone()
    ds = TensorImages(images, torch.arange(n) % 4, eval_transform(Recipe(), 8))
    return ImageData(ds, ds, ["a", "b", "c", "d"], DataSource.parse("folder:/toy"))


def test_grey_tensors_become_rgb_images():
    x, y = _toy().train[7]
    assert x.shape == (3, 8, 8) and y == 3
    images = torch.full((1, 1, 4, 4), 9, dtype=torch.uint8)
    img, _ = TensorImages(images, torch.zeros(1), lambda im: im)[0]
    assert img.mode == "RGB" and np.asarray(img).tolist() == [[[9, 9, 9]] * 4] * 4


def test_a_resumed_epoch_skips_exactly_what_was_trained():
    data, recipe = _toy(), Recipe(batch_size=4, mixup=0, cutmix=0)
    full = [
        int(y)
        for _, ys in train_loader(data, ctx=_ctx(), recipe=recipe, workers=0, seed=3, epoch=5)
        for y in ys
    ]
    rest = [
        int(y)
        for _, ys in train_loader(
            data, ctx=_ctx(), recipe=recipe, workers=0, seed=3, epoch=5, skip_batches=2
        )
        for y in ys
    ]
    assert rest == full[8:]
    other = [
        int(y)
        for _, ys in train_loader(data, ctx=_ctx(), recipe=recipe, workers=0, seed=3, epoch=6)
        for y in ys
    ]
    assert other != full  # a new order every epoch


def test_processes_share_the_work():
    data, recipe = _toy(24), Recipe(batch_size=4)
    plain = [
        list(
            train_sampler(
                data, ctx=_ctx(r, 2), recipe=recipe.replace(repeated_aug=0), seed=0, epoch=0
            )
        )
        for r in range(2)
    ]
    assert not set(plain[0]) & set(plain[1]) and len(plain[0]) == 12
    repeated = [
        list(train_sampler(data, ctx=_ctx(r, 2), recipe=recipe, seed=0, epoch=0)) for r in range(2)
    ]
    assert set(repeated[0]) & set(repeated[1])  # DeiT: copies of an image on both processes
    shards = [
        sorted(int(i) for i in val_loader(data, ctx=_ctx(r, 3), batch_size=5, workers=0).sampler)
        for r in range(3)
    ]
    # every val image exactly once over the processes, no padding
    assert sorted(i for shard in shards for i in shard) == list(range(24))


def test_too_few_images_for_one_step():
    with pytest.raises(ConfigError, match="fewer than one step"):
        micro_batches_per_epoch(_toy(6), ctx=_ctx(), recipe=Recipe(batch_size=8), accum_steps=1)
    assert (
        micro_batches_per_epoch(_toy(40), ctx=_ctx(), recipe=Recipe(batch_size=8), accum_steps=2)
        == 4
    )


@needs_fmnist
def test_fashion_mnist_for_small_runs():
    data = load_image_data(DataSource.parse("fashion-mnist"), resolution=32, recipe=Recipe())
    assert (len(data.train), len(data.val), data.num_classes) == (60_000, 10_000, 10)
    x, y = data.train[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 10


def test_a_folder_class_subset_lists_and_labels_only_those_classes(tmp_path):
    from .full_fixtures import CLASSES, make_image_folder

    root = make_image_folder(tmp_path / "in")
    data = load_image_data(
        DataSource.parse(f"imagenet:{root}"),
        resolution=32,
        recipe=Recipe(),
        classes=(CLASSES[3], CLASSES[1]),
    )
    assert data.classes == [CLASSES[1], CLASSES[3]] and data.num_classes == 2
    assert sorted(set(data.train.targets)) == [0, 1] and len(data.train) == 16
    assert all(f"/{CLASSES[1]}/" in p for p, t in data.val.samples if t == 0)
    assert data.identity == f"imagenet:{root} classes={CLASSES[1]},{CLASSES[3]}"


def test_downsampled_imagenet_for_full_training(tmp_path):
    from tests.data.test_downsampled import make_batches

    root = make_batches(tmp_path / "d", map_file=True)
    data = load_image_data(
        DataSource.parse(f"imagenet32:{root}"), resolution=32, recipe=Recipe(), classes=3
    )
    assert data.num_classes == 3 and len(data.classes) == 3
    labels = data.train.labels
    assert len(data.train) == int(np.isin(labels, [0, 1, 2]).sum()) > 100
    x, y = data.val[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 3
    # val is labelled as train is: the same class has the same red in both
    red_train = {int(data.train.images[i, 0, 0, 0]): int(labels[i]) for i in range(50)}
    for i in range(len(data.val)):
        red = int(data.val.images[i, 0, 0, 0])
        assert red_train.get(red, int(data.val.labels[i])) == int(data.val.labels[i])
