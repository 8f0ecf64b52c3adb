"""Loaders for full training, over the splits a data source opens (`nas.data.kinds`: ImageNet
folders through torchvision's ImageFolder, Downsampled ImageNet and CIFAR batches as tensors)
with timm's transforms; each optionally restricted to a class subset.

Loaders are per epoch and resumable: the sampler's order depends only on (seed, epoch), and a
run resumed mid-epoch skips the samples it already trained on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from timm.data.distributed_sampler import RepeatAugSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from nas.data import Classes, DataSource
from nas.space import ConfigError

from . import recipe as R
from .distributed import DistContext


@dataclass
class ImageData:
    train: Dataset
    val: Dataset
    classes: list[str]
    source: DataSource
    subset: Classes = None  # the --classes asked for (None: every class of the source)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def identity(self) -> str:
        """The source and its class subset: what a checkpoint may be continued on."""
        return (
            str(self.source)
            if self.subset is None
            else f"{self.source} classes={','.join(self.classes)}"
        )


def load_image_data(
    source: DataSource, *, resolution: int, recipe: R.Recipe, classes: Classes = None
) -> ImageData:
    """Train and val sets with the recipe's transforms at `resolution`; `classes`: a subset
    (`--classes`), chosen and labelled as the proxy data chooses it. Each kind of source opens
    its splits in its own module (`nas.data.kinds`)."""
    train, val, names = source.spec.full(
        source,
        train_tf=R.train_transform(recipe, resolution),
        val_tf=R.eval_transform(recipe, resolution),
        classes=classes,
    )
    return ImageData(train, val, names, source, classes)


class SkipSampler(Sampler[int]):
    """The inner sampler's indices after the first `skip` (a run resumed mid-epoch)."""

    def __init__(self, inner: Sampler[int], skip: int):
        self.inner, self.skip = inner, skip

    def __iter__(self) -> Iterator[int]:
        for i, index in enumerate(self.inner):
            if i >= self.skip:
                yield index

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip)  # type: ignore[arg-type]


def train_sampler(
    data: ImageData, *, ctx: DistContext, recipe: R.Recipe, seed: int, epoch: int
) -> Sampler[int]:
    """DeiT's repeated augmentation across processes (timm's RepeatAugSampler); on one process
    it would put the copies in the same batch, so there it is a plain shuffle, as in timm."""
    if ctx.distributed and recipe.repeated_aug > 1:
        sampler: Any = RepeatAugSampler(
            data.train,
            num_replicas=ctx.world_size,
            rank=ctx.rank,
            shuffle=True,
            num_repeats=recipe.repeated_aug,
        )
    else:
        sampler = DistributedSampler(
            data.train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed
        )
    sampler.set_epoch(epoch)
    return sampler


def micro_batches_per_epoch(
    data: ImageData, *, ctx: DistContext, recipe: R.Recipe, accum_steps: int
) -> int:
    """Micro-batches each process trains per epoch: whole accumulation groups only."""
    per_process = len(train_sampler(data, ctx=ctx, recipe=recipe, seed=0, epoch=0))
    groups = per_process // recipe.batch_size // accum_steps
    if groups == 0:
        raise ConfigError(
            f"{len(data.train)} training images give each of {ctx.world_size} process(es) "
            f"{per_process}, fewer than one step of {recipe.batch_size} x {accum_steps} "
            f"(batch x accumulation); lower --batch-size or --accum-steps",
            field="--batch-size",
            source=str(data.source),
        )
    return groups * accum_steps


def train_loader(
    data: ImageData,
    *,
    ctx: DistContext,
    recipe: R.Recipe,
    workers: int,
    seed: int,
    epoch: int,
    skip_batches: int = 0,
) -> DataLoader:
    sampler = train_sampler(data, ctx=ctx, recipe=recipe, seed=seed, epoch=epoch)
    if skip_batches:
        sampler = SkipSampler(sampler, skip_batches * recipe.batch_size)
    # its own generator: worker seeds follow (seed, epoch, rank), not the global RNG, so
    # creating a loader consumes no global randomness and a resumed run stays in step
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1_009 + ctx.rank)
    return DataLoader(
        data.train,
        batch_size=recipe.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=ctx.device.type == "cuda",
        drop_last=True,
        generator=generator,
    )


def val_loader(data: ImageData, *, ctx: DistContext, batch_size: int, workers: int) -> DataLoader:
    """Each process scores a disjoint stride of the val set, unpadded: sums are exact."""
    shard = range(ctx.rank, len(data.val), ctx.world_size)
    return DataLoader(
        data.val,
        batch_size=batch_size,
        sampler=shard,
        num_workers=workers,
        pin_memory=ctx.device.type == "cuda",
        drop_last=False,
    )
