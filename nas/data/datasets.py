"""The torch Datasets full training reads: images held as uint8 tensors, and ImageNet-layout
folders restricted to a class list."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import ImageFolder


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


def keep_classes(
    x: torch.Tensor, y: torch.Tensor, keep: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images of the classes `keep`, relabelled 0..len(keep)-1 in its order."""
    if len(keep) == int(y.max()) + 1:
        return x, y
    lookup = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    lookup[torch.tensor(keep)] = torch.arange(len(keep))
    items = torch.nonzero(lookup[y] >= 0).flatten()
    return x[items], lookup[y[items]]
