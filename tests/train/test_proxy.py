"""Proxy data and proxy training on tiny subsets."""

from __future__ import annotations

import itertools

import pytest
import torch

from nas.data.proxy import ProxyData, balanced_split, load_proxy_data
from nas.space import ArchSpec, ConfigError, HeadSpec, StageSpec, StemSpec
from nas.train.proxy import (
    TrainingDiverged,
    build_proxy_model,
    evaluate,
    proxy_resolution,
    proxy_train,
    random_crop,
)
from nas.train.proxy_config import ProxyConfig

from ..helpers import needs_fmnist, tiny_spec

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


def test_random_crops_are_windows_of_the_reflected_image():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2), mode="reflect")
    crops = random_crop(x, pad=2, gen=torch.Generator().manual_seed(1))
    assert crops.shape == x.shape and crops.dtype == torch.uint8
    for crop, full in zip(crops, padded):
        windows = [full[:, i : i + 6, j : j + 6] for i in range(5) for j in range(5)]
        assert any(torch.equal(crop.float(), w) for w in windows)
    many = random_crop(x.repeat(50, 1, 1, 1), pad=2, gen=torch.Generator().manual_seed(2))
    assert len({tuple(c.flatten().tolist()) for c in many[::2]}) > 5  # offsets vary


def _inputs_seen(cfg: ProxyConfig, data: ProxyData) -> list[torch.Tensor]:
    """Every training batch the model sees, in order."""
    torch.manual_seed(0)
    model = build_proxy_model(tiny_spec("conv", width=8), cfg=cfg, data=data)
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]) if m.training else None)
    proxy_train(model, data, cfg)
    return seen


def test_alternating_flip_mirrors_each_image_every_other_epoch():
    data = blobs(n=48)
    data.train_x[:, :, :, :14] = 0  # left half dark: a mirrored image is told apart
    cfg = CFG.replace(epochs=4, train_images=32, batch_size=32, alt_flip=True)
    epochs = _inputs_seen(cfg, data)
    assert len(epochs) == 4
    # the left half is dark unless mirrored; per image (its sum identifies it) flips alternate
    flipped = []
    for batch in epochs:
        left, right = batch[..., :16].sum((1, 2, 3)), batch[..., 16:].sum((1, 2, 3))
        order = batch.sum((1, 2, 3)).argsort()
        flipped.append((left > right)[order])
    for a, b in itertools.pairwise(flipped):
        assert torch.equal(a, ~b)
    assert 0 < int(flipped[0].sum()) < 32  # the first epoch's mirror is random per image


def test_flip_tta_scores_the_mean_logits_of_an_image_and_its_mirror():
    data = blobs()
    torch.manual_seed(0)
    model = build_proxy_model(tiny_spec("conv", width=8), cfg=CFG, data=data).eval()
    x = data.prepare(data.val_x, resolution=32, in_chans=3)
    with torch.no_grad():
        logits = model(x) + model(x.flip(-1))
    expected = (logits.argmax(-1) == data.val_y).float().mean().item()
    assert evaluate(model, data, batch_size=17, tta_flip=True) == pytest.approx(expected)


def test_an_ema_of_weights_is_what_gets_validated():
    data = blobs()
    runs = {}
    for decay in (0.0, 1e-9, 0.9):
        torch.manual_seed(0)
        model = build_proxy_model(tiny_spec("conv", width=8), cfg=CFG, data=data)
        runs[decay] = proxy_train(model, data, CFG.replace(ema_decay=decay)).curve
    assert runs[1e-9] == runs[0.0]  # an average over one step is the weights themselves
    assert runs[0.9] != runs[0.0]
