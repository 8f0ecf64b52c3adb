"""The recipe's values, and that each of its timm pieces really acts on the training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import auto_augment
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from nas.models import build_model
from nas.space import ConfigError
from nas.train import recipe as R
from nas.train.timm_compat import posterize_any_bits
from tests.helpers import tiny_spec


def test_defaults_are_deit_spach():
    r = R.Recipe()
    assert (r.epochs, r.opt, r.weight_decay, r.warmup_epochs) == (300, "adamw", 0.05, 5)
    assert (r.mixup, r.cutmix, r.smoothing, r.reprob) == (0.8, 1.0, 0.1, 0.25)
    assert r.auto_augment == "rand-m9-mstd0.5-inc1" and r.repeated_aug == 3
    # SPACH trained 8 GPUs x 128: lr 5e-4 per 512 images -> 1e-3
    assert r.learning_rate(1024) == pytest.approx(1e-3)
    assert r.replace(lr=3e-4).learning_rate(1024) == 3e-4


@pytest.mark.parametrize("params, rate", [(5e6, 0.1), (28e6, 0.2), (50e6, 0.3), (88e6, 0.5)])
def test_stochastic_depth_grows_with_model_size(params, rate):
    assert R.drop_path_for(int(params)) == rate


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(batch_size=7), "--batch-size"),
        (dict(reprob=1.5), "--reprob"),
        (dict(epochs=0), "--epochs"),
        (dict(ema_decay=1.0), "--ema-decay"),
        (dict(lr=-1.0), "--lr"),
        (dict(mixup_prob=2.0), "--mixup-prob"),
        (dict(opt="nosuchopt"), "--opt"),
        (dict(auto_augment="garbage"), "--auto-augment"),
        (dict(interpolation="foo"), "--interpolation"),
        (dict(remode="foo"), "--remode"),
    ],
)
def test_bad_values_name_the_option(changes, field):
    with pytest.raises(ConfigError) as e:
        R.Recipe(**changes)
    assert e.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        dict(opt="SGD"),
        dict(auto_augment="original"),
        dict(auto_augment=""),
        dict(interpolation="bilinear"),
    ],
)
def test_other_timm_choices_are_accepted(changes):
    assert R.Recipe(**changes).to_dict().items() >= changes.items()


def test_odd_batches_are_fine_without_mixing():
    assert R.Recipe(batch_size=7, mixup=0, cutmix=0).batch_size == 7


def test_mixup_changes_inputs_and_targets():
    mix = R.mixup(R.Recipe(), num_classes=4)
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 8, 8).clone()
    y = torch.tensor([0, 1, 2, 3])
    np.random.seed(0)
    mixed_x, soft = mix(x.clone(), y)
    assert soft.shape == (4, 4) and torch.allclose(soft.sum(1), torch.ones(4))
    assert (soft.max(1).values < 1).all()  # smoothing and mixing: never a hard label
    assert not torch.equal(mixed_x, x)
    assert R.mixup(R.Recipe(mixup=0, cutmix=0), num_classes=4) is None


def test_losses_follow_the_mixing():
    assert isinstance(R.train_loss(R.Recipe()), SoftTargetCrossEntropy)
    assert isinstance(R.train_loss(R.Recipe(mixup=0, cutmix=0)), LabelSmoothingCrossEntropy)
    assert isinstance(
        R.train_loss(R.Recipe(mixup=0, cutmix=0, smoothing=0)), torch.nn.CrossEntropyLoss
    )


def test_train_transform_is_random_and_erases():
    tf = R.train_transform(R.Recipe(reprob=1.0), 32)
    names = " ".join(type(t).__name__ for t in tf.transforms)
    assert "RandAugment" in names and "RandomErasing" in names
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8))
    a, b = tf(img), tf(img)
    assert a.shape == (3, 32, 32) and not torch.equal(a, b)
    ev = R.eval_transform(R.Recipe(), 32)
    assert torch.equal(ev(img), ev(img))


def test_posterize_to_zero_bits_gives_black_not_an_error():
    img = Image.new("RGB", (4, 4), (200, 100, 50))
    assert np.asarray(posterize_any_bits(img, 0)).max() == 0
    assert np.asarray(posterize_any_bits(img, 8)).max() == 200
    assert auto_augment.NAME_TO_OP["PosterizeIncreasing"] is posterize_any_bits


def test_optimizer_skips_decay_on_norms_and_biases():
    model = build_model(tiny_spec("conv"))
    opt = R.optimizer(model, R.Recipe(), lr=1e-3)
    decays = {g["weight_decay"] for g in opt.param_groups}
    assert decays == {0.0, 0.05}
    assert isinstance(opt, torch.optim.AdamW)


def test_schedule_warms_up_then_decays_to_min_lr():
    model = torch.nn.Linear(2, 2)
    recipe = R.Recipe(epochs=10, warmup_epochs=2)
    opt = R.optimizer(model, recipe, lr=1e-3)
    sched = R.scheduler(opt, recipe, updates_per_epoch=5)
    lrs = []
    for update in range(50):
        sched.step_update(update)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[:10] == sorted(lrs[:10]) and lrs.index(max(lrs)) == 10
    # as in DeiT, the warmup hands over to the cosine of the whole run (not a prefix)
    assert lrs[10] == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi / 5)))
    assert lrs[-1] == pytest.approx(1e-5, abs=2e-6) and lrs[10:] == sorted(lrs[10:], reverse=True)


def test_ema_weights_trail_the_model():
    model = build_model(tiny_spec("conv"))
    ema = R.weight_ema(model, R.Recipe(ema_decay=0.9))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 4):
        model(torch.randn(2, 3, 32, 32)).sum().backward()
        opt.step()
        opt.zero_grad()
        ema.update(model, step=step)
    w, e = model.head.fc.weight, ema.module.head.fc.weight
    assert not torch.equal(w, e) and torch.isfinite(e).all()
    assert R.weight_ema(model, R.Recipe(ema=False)) is None
