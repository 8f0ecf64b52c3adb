"""Proxy data and proxy training on tiny subsets."""

from __future__ import annotations

import pytest
import torch

from nas.space import ArchSpec, ConfigError, HeadSpec, StageSpec, StemSpec
from nas.train.data import FASHION_MNIST_DIR
from nas.train.proxy import (
    TrainingDiverged,
    build_proxy_model,
    proxy_resolution,
    proxy_train,
)
from nas.train.proxy_config import ProxyConfig
from nas.train.proxy_data import ProxyData, balanced_split, load_proxy_data

from ..helpers import tiny_spec

needs_fmnist = pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
CFG = ProxyConfig(
    "test",
    epochs=3,
    resolution=32,
    train_images=160,
    val_images=80,
    batch_size=32,
    warmup_epochs=0.0,
    eval_batch_size=80,
)


def blobs(n: int = 240, side: int = 28) -> ProxyData:
    """A learnable toy set of 4 textures (stripes both ways, checks, flat) under noise."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 4
    i = torch.arange(side)
    rows, cols = (i[:, None] // 2 % 2).expand(side, side), (i[None] // 2 % 2).expand(side, side)
    patterns = torch.stack([rows, cols, rows ^ cols, torch.ones(side, side, dtype=torch.long)])
    x = (patterns[y] * 120)[:, None] + torch.randint(0, 100, (n, 1, side, side), generator=g)
    cut = n * 2 // 3
    x = x.to(torch.uint8)
    return ProxyData(x[:cut], y[:cut], x[cut:], y[cut:], 4, (0.4,), (0.3,), "textures")


def test_candidates_get_the_smallest_resolution_they_accept():
    mlp_last = ArchSpec(
        stages=(StageSpec(16, ("conv",)), StageSpec(32, ("mlp",), downsample="conv")),
        stem=StemSpec("conv1", 16),
        head=HeadSpec(),
        resolution=224,
    )
    assert mlp_last.fit_resolution(28) == 32
    assert proxy_resolution(mlp_last, 28) == 64  # a token MLP needs >= 2 tokens here
    assert proxy_resolution(tiny_spec("conv"), 28) == 32


def test_prepare_replicates_channels_and_resizes_on_the_device():
    data = blobs()
    x = data.prepare(data.train_x[:5], resolution=40, in_chans=3)
    assert x.shape == (5, 3, 40, 40) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], x[:, 2])
    assert abs(float(data.prepare(data.train_x, resolution=28, in_chans=1).mean())) < 3


def test_balanced_split_is_disjoint_and_balanced():
    labels = torch.arange(1000) % 10
    train, val = balanced_split(labels, 200, 100, torch.Generator().manual_seed(0))
    assert len(set(train.tolist()) & set(val.tolist())) == 0
    assert torch.bincount(labels[train]).tolist() == [20] * 10
    assert torch.bincount(labels[val]).tolist() == [10] * 10
    with pytest.raises(ConfigError, match="the proxy asks for 900 \\+ 200 images"):
        balanced_split(labels, 900, 200, torch.Generator())


def test_proxy_training_learns_and_reports_each_epoch():
    data = blobs()
    torch.manual_seed(0)
    model = build_proxy_model(tiny_spec("conv", width=16), cfg=CFG, data=data)
    assert model.num_classes == 4 and model.spec.resolution == 32
    seen = []
    result = proxy_train(model, data, CFG, on_epoch=lambda e, a: seen.append((e, a)) or False)
    assert [e for e, _ in seen] == [1, 2, 3] and result.curve == [a for _, a in seen]
    assert result.accuracy > 0.5  # 4 classes: chance is 0.25
    assert result.seconds > 0 and result.images_per_s > 0 and not result.stopped


def test_on_epoch_can_stop_training_early():
    data = blobs()
    model = build_proxy_model(tiny_spec("conv", width=16), cfg=CFG, data=data)
    result = proxy_train(model, data, CFG, on_epoch=lambda e, a: e >= 1)
    assert result.stopped and result.epochs == 1


def test_a_nan_loss_raises_training_diverged():
    data = blobs()
    model = build_proxy_model(tiny_spec("conv", width=16), cfg=CFG, data=data)
    with torch.no_grad():
        model.head.fc.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan in epoch 1"):
        proxy_train(model, data, CFG)


@needs_fmnist
def test_fashion_mnist_proxy_data_is_a_held_out_split_of_train():
    data = load_proxy_data("fashion-mnist", train_images=300, val_images=100, seed=0)
    assert data.train_x.shape == (300, 1, 28, 28) and data.val_x.shape == (100, 1, 28, 28)
    assert torch.bincount(data.val_y).tolist() == [10] * 10
    same = (data.train_x.flatten(1)[:, None] == data.val_x.flatten(1)[None]).all(-1)
    assert not same.any()


@pytest.mark.parametrize("splits", [("train", "val"), ("train",)])
def test_image_folders_load_as_a_resident_subset(tmp_path, splits):
    """From train/ alone (the proxy's val images are held out of it): no val/ needed."""
    from PIL import Image

    for split in splits:
        for k, c in enumerate(("cat", "dog")):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (40, 30), (100 * k, 10 * i, 0)).save(
                    tmp_path / split / c / f"{i}.png"
                )
    data = load_proxy_data(f"folder:{tmp_path}", train_images=8, val_images=4, folder_size=16)
    assert data.train_x.shape == (8, 3, 16, 16) and data.train_x.dtype == torch.uint8
    assert data.num_classes == 2 and torch.bincount(data.val_y).tolist() == [2, 2]
    assert len(data.mean) == 3
