"""Datasets and loaders for full training: ImageNet-layout folders (torchvision's ImageFolder
with timm's transforms), Downsampled ImageNet (its batches gathered once into the memory-mapped
cache), Fashion-MNIST for small end-to-end runs; each optionally restricted to a class subset.

Loaders are per epoch and resumable: the sampler's order depends only on (seed, epoch), and a
run resumed mid-epoch skips the samples it already trained on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from timm.data.distributed_sampler import RepeatAugSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.datasets import ImageFolder

from nas.space import ConfigError

from . import recipe as R
from .classes import Classes, select_classes
from .data import FASHION_MNIST_CLASSES, DataSource, check_image_folder, load_fashion_mnist
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


class TensorImages(Dataset):
    """uint8 (N, C, H, W) images as PIL RGB, so the ImageNet transforms apply unchanged."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Any):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i].permute(1, 2, 0).squeeze(-1).numpy())
        return self.transform(img.convert("RGB")), int(self.labels[i])


class ClassFolder(ImageFolder):
    """ImageFolder of the listed classes only, labelled in that order: the folders of other
    classes are not even listed."""

    def __init__(self, root: str, *, classes: list[str], transform: Any):
        self.kept = list(classes)
        super().__init__(root, transform=transform)

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return self.kept, {c: i for i, c in enumerate(self.kept)}


def load_image_data(
    source: DataSource, *, resolution: int, recipe: R.Recipe, classes: Classes = None
) -> ImageData:
    """Train and val sets with the recipe's transforms at `resolution`; `classes`: a subset
    (`--classes`), chosen and labelled as the proxy data chooses it."""
    train_tf = R.train_transform(recipe, resolution)
    val_tf = R.eval_transform(recipe, resolution)
    if source.kind == "fashion-mnist":
        keep = select_classes(FASHION_MNIST_CLASSES, classes, source=str(source))
        train, val = (
            _keep_classes(*load_fashion_mnist(split), keep) for split in ("train", "val")
        )
        return ImageData(
            TensorImages(*train, train_tf),
            TensorImages(*val, val_tf),
            [FASHION_MNIST_CLASSES[i] for i in keep],
            source,
            classes,
        )
    if source.downsampled:
        return _downsampled(source, classes=classes, train_tf=train_tf, val_tf=val_tf)
    assert source.path is not None
    names = check_image_folder(source.path)
    kept = [names[i] for i in select_classes(names, classes, source=str(source))]
    train = ClassFolder(str(source.path / "train"), classes=kept, transform=train_tf)
    val = ClassFolder(str(source.path / "val"), classes=kept, transform=val_tf)
    return ImageData(train, val, kept, source, classes)


def _keep_classes(
    x: torch.Tensor, y: torch.Tensor, keep: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    if len(keep) == int(y.max()) + 1:
        return x, y
    lookup = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    lookup[torch.tensor(keep)] = torch.arange(len(keep))
    items = torch.nonzero(lookup[y] >= 0).flatten()
    return x[items], lookup[y[items]]


def _downsampled(source: DataSource, *, classes: Classes, train_tf: Any, val_tf: Any) -> ImageData:
    """Every row of the kept classes, train and val, each gathered once into the cache (a
    copy of the data set's rows, memory-mapped: DataLoader workers share its pages)."""
    from . import downsampled as D

    train = D.labelled_split(source, classes=classes)
    val = D.labelled_split(source, split="val", names_from=train)
    sets = []
    for part, transform in ((train, train_tf), (val, val_tf)):
        rows = part.items
        entry = D.cached_rows(source, part, rows)
        sets.append(
            TensorImages(
                torch.from_numpy(entry.array), torch.from_numpy(part.relabelled[rows]), transform
            )
        )
    return ImageData(sets[0], sets[1], train.names, source, classes)


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
