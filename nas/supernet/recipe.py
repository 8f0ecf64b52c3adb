"""How a supernet is trained, with the source of each choice.

The sandwich rule and in-place distillation are BigNAS's (Yu et al., 2020, sec. 3.1): each
step trains the largest subnet on the labels, then the smallest and `random_subnets` random
ones on the largest's predictions, all drawn from the budget's feasible region so that every
subnet trained is one the search may pick. The optimiser, schedule, augmentation and clipping
are those of the CIFAR-10 reference (`reference-cifar` in `nas.train.proxy_config`), so that a
subnet's inherited weights are judged against networks trained the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nas._core import ConfigError


@dataclass(frozen=True)
class SupernetRecipe:
    name: str
    epochs: int = 8
    train_images: int = 25_000  # of the data's training split, class-balanced (data seed)
    val_images: int = 2_000  # held out of the same split: what subnets are scored on
    resolution: int = 64  # px; the space's architectures run at this side ...
    width_scale: float = 0.5  # ... and these widths, as `reference-cifar` trains them
    batch_size: int = 128  # images per step (over all processes)
    lr: float = 1e-3  # AdamW, cosine to 0 after warm-up (timm), as reference-cifar
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1  # the largest subnet's loss on the labels
    crop_pad: int = 4  # reflected random crops, px (the standard CIFAR augmentation)
    flip: bool = True
    clip_grad: float = 1.0  # on the summed gradient of the step's subnets
    random_subnets: int = 2  # BigNAS: 2 random subnets besides the largest and smallest
    distill: bool = True  # in-place distillation from the largest (BigNAS, OFA)
    bn_images: int = 512  # scoring: batch-norm statistics recomputed on these (OFA sec. 3.3)
    eval_batch_size: int = 500
    checkpoint_every: int = 100  # steps between checkpoints (and at each epoch's end)

    def __post_init__(self) -> None:
        for name in ("epochs", "train_images", "val_images", "resolution", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"expected a whole number >= 1, got {value!r}", field=name)
        for name in ("random_subnets", "crop_pad", "bn_images", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"expected a whole number >= 0, got {value!r}", field=name)
        if not 0 < self.width_scale <= 1:
            raise ConfigError(
                f"`0 < width_scale <= 1` must hold, but got {self.width_scale}",
                field="width_scale",
            )
        if not self.lr > 0 or not 0 <= self.label_smoothing < 1 or self.clip_grad < 0:
            raise ConfigError(
                "`lr > 0`, `0 <= label_smoothing < 1` and `clip_grad >= 0` must hold, but got "
                f"lr={self.lr}, label_smoothing={self.label_smoothing}, "
                f"clip_grad={self.clip_grad}",
                field="recipe",
            )

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_images // self.batch_size)

    def replace(self, **changes: Any) -> SupernetRecipe:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> SupernetRecipe:
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"unknown field; expected one of {', '.join(sorted(known))}",
                    field=str(key),
                    source=source,
                )
        try:
            return cls(**data)
        except ConfigError as e:
            raise e.within(source=source) from None


RECIPES: dict[str, SupernetRecipe] = {
    # CIFAR-10 on CPU cores: the reference's data, resolution and widths, 8 epochs.
    "cpu": SupernetRecipe("cpu"),
    # On a GPU: all 50,000 training images but the held-out ones, longer.
    "gpu": SupernetRecipe("gpu", epochs=30, train_images=48_000, batch_size=256),
    # Seconds: tests and trying the command out.
    "tiny": SupernetRecipe(
        "tiny",
        epochs=2,
        train_images=128,
        val_images=64,
        resolution=32,
        width_scale=0.25,
        batch_size=32,
        warmup_epochs=0.0,
        bn_images=64,
        checkpoint_every=2,
    ),
}


def get_recipe(name: str) -> SupernetRecipe:
    if name not in RECIPES:
        raise ConfigError(
            f"unknown supernet recipe {name!r}; expected one of {', '.join(RECIPES)}",
            field="--recipe",
        )
    return RECIPES[name]
