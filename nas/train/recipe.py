"""The DeiT/SPACH ImageNet recipe: its values with their sources, assembled from timm's parts.

Sources:
  [DeiT]   Touvron et al., "Training data-efficient image transformers", ICML 2021, Table 9,
           and facebookresearch/deit main.py defaults.
  [SPACH]  Zhao et al., "A Battle of Network Structures", 2021, Sec. 4 ("training settings follow
           DeiT; AdamW, 300 epochs, weight decay 0.05") and microsoft/SPACH main.py defaults
           (8 GPUs x 128 images, lr 5e-4 per 512 images scaled linearly).
  [Swin]   Liu et al., "Swin Transformer", ICCV 2021 (stochastic depth by model size).
  [timm]   timm's train.py conventions where the papers are silent.

The SPACH reviews in our seeds quote "lr 0.005 for batch 512"; SPACH's code (and DeiT's) use
5e-4 per 512, i.e. 1e-3 at the 1024 batch SPACH trained with. We follow the code: 5e-3 with
AdamW diverges for attention models, and the paper defers to DeiT, whose base is 5e-4.

Nothing here reimplements timm: transforms, Mixup/CutMix, losses, AdamW with no-decay groups,
the warmup+cosine schedule and the weight EMA are timm's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from timm.data import Mixup, create_transform
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3
from torch import nn

from nas.space import ConfigError

from . import timm_compat  # noqa: F401  (RandAugment's posterize under Pillow >= 11)


@dataclass(frozen=True)
class Recipe:
    """Every value of the full-training recipe; each one is a `nas-train` option."""

    # --- schedule -------------------------------------------------------------------------
    epochs: int = 300  # [DeiT][SPACH]
    warmup_epochs: float = 5  # [DeiT] (SPACH's port defaults to 20; its paper says DeiT)
    batch_size: int = 128  # images per process per step [SPACH]: 128/GPU x 8 GPUs
    lr_base: float = 5e-4  # per 512 images, scaled linearly [DeiT][SPACH code]
    lr_base_size: int = 512  # images the base lr is quoted for [DeiT]
    lr: float | None = None  # absolute lr; overrides the scaled lr_base [timm]
    min_lr: float = 1e-5  # cosine floor [DeiT]
    warmup_lr: float = 1e-6  # lr at step 0 of the warmup [DeiT]
    # --- optimiser ------------------------------------------------------------------------
    opt: str = "adamw"  # [DeiT][SPACH]
    weight_decay: float = 0.05  # [DeiT][SPACH]; not on norms, biases, no_weight_decay()
    opt_eps: float = 1e-8  # [DeiT]
    clip_grad: float | None = None  # max grad norm; none in [DeiT]
    # --- augmentation ---------------------------------------------------------------------
    auto_augment: str = "rand-m9-mstd0.5-inc1"  # RandAugment [DeiT]; "" disables
    interpolation: str = "bicubic"  # train resize [DeiT]
    color_jitter: float = 0.4  # [DeiT]; timm (like DeiT) skips it under RandAugment
    reprob: float = 0.25  # random erasing probability [DeiT]
    remode: str = "pixel"  # random erasing fill [DeiT]
    mixup: float = 0.8  # Mixup alpha [DeiT]; 0 disables
    cutmix: float = 1.0  # CutMix alpha [DeiT]; 0 disables
    mixup_prob: float = 1.0  # chance a batch is mixed at all [DeiT]
    mixup_switch_prob: float = 0.5  # chance of CutMix rather than Mixup [DeiT]
    smoothing: float = 0.1  # label smoothing [DeiT]
    repeated_aug: int = 3  # copies per image across processes [DeiT]; 0/1 disables
    eval_crop_pct: float = 0.875  # center crop 224 of 256 [DeiT]
    # --- regularisation -------------------------------------------------------------------
    drop_path: float | None = None  # stochastic depth; None: by model size (drop_path_for)
    drop: float = 0.0  # classifier dropout [DeiT]
    ema: bool = True  # keep an EMA of the weights [DeiT][SPACH code default]
    ema_decay: float = 0.99996  # per update [DeiT][SPACH]

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "epochs", "at least 1", self.epochs)
        _check(self.batch_size >= 1, "batch_size", "at least 1", self.batch_size)
        _check(self.warmup_epochs >= 0, "warmup_epochs", ">= 0", self.warmup_epochs)
        _check(self.lr_base > 0, "lr_base", "> 0", self.lr_base)
        _check(self.lr_base_size >= 1, "lr_base_size", "at least 1", self.lr_base_size)
        _check(self.lr is None or self.lr > 0, "lr", "> 0", self.lr)
        _check(self.min_lr >= 0, "min_lr", ">= 0", self.min_lr)
        _check(self.warmup_lr >= 0, "warmup_lr", ">= 0", self.warmup_lr)
        _check(self.weight_decay >= 0, "weight_decay", ">= 0", self.weight_decay)
        _check(self.opt_eps > 0, "opt_eps", "> 0", self.opt_eps)
        _check(self.clip_grad is None or self.clip_grad > 0, "clip_grad", "> 0", self.clip_grad)
        _check(
            self.opt.lower() in _optimizers(),
            "opt",
            "one of timm's optimizers (timm.optim.list_optimizers())",
            self.opt,
        )
        _check(
            self.interpolation in INTERPOLATIONS,
            "interpolation",
            f"one of {', '.join(INTERPOLATIONS)}",
            self.interpolation,
        )
        _check(self.color_jitter >= 0, "color_jitter", ">= 0", self.color_jitter)
        _check(0 <= self.reprob <= 1, "reprob", "in [0, 1]", self.reprob)
        _check(
            self.remode in ERASE_MODES, "remode", f"one of {', '.join(ERASE_MODES)}", self.remode
        )
        _check(self.mixup >= 0, "mixup", ">= 0", self.mixup)
        _check(self.cutmix >= 0, "cutmix", ">= 0", self.cutmix)
        _check(0 <= self.mixup_prob <= 1, "mixup_prob", "in [0, 1]", self.mixup_prob)
        _check(
            0 <= self.mixup_switch_prob <= 1,
            "mixup_switch_prob",
            "in [0, 1]",
            self.mixup_switch_prob,
        )
        _check(0 <= self.smoothing < 1, "smoothing", "in [0, 1)", self.smoothing)
        _check(self.repeated_aug >= 0, "repeated_aug", ">= 0", self.repeated_aug)
        _check(0 < self.eval_crop_pct <= 1, "eval_crop_pct", "in (0, 1]", self.eval_crop_pct)
        _check(0 <= self.drop < 1, "drop", "in [0, 1)", self.drop)
        _check(0 < self.ema_decay < 1, "ema_decay", "in (0, 1)", self.ema_decay)
        _check(
            self.drop_path is None or 0 <= self.drop_path < 1,
            "drop_path",
            "in [0, 1)",
            self.drop_path,
        )
        _check_auto_augment(self.auto_augment)
        if self.mixing and self.batch_size % 2:
            raise ConfigError(
                f"Mixup/CutMix pair images within a batch, so the batch must be "
                f"even, got {self.batch_size} (or set --mixup 0 --cutmix 0)",
                field="--batch-size",
            )

    @property
    def mixing(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def learning_rate(self, global_batch: int) -> float:
        """The peak lr: `lr` when given, else lr_base scaled by global_batch / lr_base_size."""
        if self.lr is not None:
            return self.lr
        return self.lr_base * global_batch / self.lr_base_size


def _check(ok: bool, field: str, expected: str, got: Any) -> None:
    if not ok:
        flag = "--" + field.replace("_", "-")
        raise ConfigError(f"expected {expected}, got {got!r}", field=flag)


INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "box", "hamming", "lanczos")  # timm's
ERASE_MODES = ("pixel", "rand", "const")  # timm RandomErasing: per-pixel, per-channel, zero


def _optimizers() -> set[str]:
    from timm.optim import list_optimizers

    return set(list_optimizers())


def _check_auto_augment(policy: str) -> None:
    """Parse the policy with timm now rather than fail when the first loader starts."""
    if not policy:
        return
    from timm.data.auto_augment import (
        augment_and_mix_transform,
        auto_augment_transform,
        rand_augment_transform,
    )

    build = {"rand": rand_augment_transform, "augmix": augment_and_mix_transform}.get(
        policy.split("-")[0], auto_augment_transform
    )
    try:
        build(policy, {})
    except (AssertionError, KeyError, ValueError, IndexError) as err:
        raise ConfigError(
            f"expected a timm augmentation policy such as "
            f"'rand-m9-mstd0.5-inc1' or 'original', got {policy!r} ({err})",
            field="--auto-augment",
        ) from None


# Stochastic depth by parameters: DeiT's 0.1 for small models, then Swin's T/S/B values
# (28M: 0.2, 50M: 0.3, 88M: 0.5). SPACH's xxs/xs/s models fall in the same bands.
DROP_PATH_BY_PARAMS: tuple[tuple[float, float], ...] = (
    (15e6, 0.1),
    (35e6, 0.2),
    (70e6, 0.3),
    (float("inf"), 0.5),
)


def drop_path_for(params: int) -> float:
    """The stochastic-depth rate for a model of `params` parameters (DROP_PATH_BY_PARAMS)."""
    return next(rate for limit, rate in DROP_PATH_BY_PARAMS if params < limit)


# --- timm components ------------------------------------------------------------------------


def train_transform(recipe: Recipe, resolution: int) -> Any:
    return create_transform(
        resolution,
        is_training=True,
        auto_augment=recipe.auto_augment or None,
        interpolation=recipe.interpolation,
        color_jitter=recipe.color_jitter,
        re_prob=recipe.reprob,
        re_mode=recipe.remode,
        re_count=1,
    )


def eval_transform(recipe: Recipe, resolution: int) -> Any:
    return create_transform(
        resolution,
        is_training=False,
        interpolation=recipe.interpolation,
        crop_pct=recipe.eval_crop_pct,
    )


def mixup(recipe: Recipe, num_classes: int) -> Mixup | None:
    """Mixup/CutMix with label smoothing folded into the soft targets, or None when off."""
    if not recipe.mixing:
        return None
    return Mixup(
        mixup_alpha=recipe.mixup,
        cutmix_alpha=recipe.cutmix,
        prob=recipe.mixup_prob,
        switch_prob=recipe.mixup_switch_prob,
        mode="batch",
        label_smoothing=recipe.smoothing,
        num_classes=num_classes,
    )


def train_loss(recipe: Recipe) -> nn.Module:
    """Soft-target CE under Mixup (it carries the smoothing), else smoothed or plain CE [DeiT]."""
    if recipe.mixing:
        return SoftTargetCrossEntropy()
    if recipe.smoothing > 0:
        return LabelSmoothingCrossEntropy(smoothing=recipe.smoothing)
    return nn.CrossEntropyLoss()


def optimizer(model: nn.Module, recipe: Recipe, *, lr: float) -> torch.optim.Optimizer:
    """timm's factory: no weight decay on 1-d params and the model's no_weight_decay()."""
    return create_optimizer_v2(
        model, opt=recipe.opt, lr=lr, weight_decay=recipe.weight_decay, eps=recipe.opt_eps
    )


def scheduler(opt: torch.optim.Optimizer, recipe: Recipe, *, updates_per_epoch: int) -> Any:
    """Warmup then cosine to min_lr, stepped every update as timm's train.py does (DeiT steps
    per epoch; the two agree at epoch boundaries)."""
    sched, _ = create_scheduler_v2(
        opt,
        sched="cosine",
        num_epochs=recipe.epochs,
        warmup_epochs=recipe.warmup_epochs,
        warmup_lr=recipe.warmup_lr,
        min_lr=recipe.min_lr,
        cooldown_epochs=0,
        step_on_epochs=False,
        updates_per_epoch=updates_per_epoch,
    )
    return sched


def weight_ema(model: nn.Module, recipe: Recipe) -> ModelEmaV3 | None:
    """Created before the DDP wrapper, on the model's device (timm's order)."""
    return ModelEmaV3(model, decay=recipe.ema_decay) if recipe.ema else None
