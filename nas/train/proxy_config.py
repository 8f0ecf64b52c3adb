"""The proxy's fidelity: one hyperparameter dataclass and its named presets.

Torch-free, so that a command can read and check its options before loading torch.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nas.space import ConfigError
from nas.space.io import read_yaml

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ProxyConfig:
    """Fidelity of the proxy. Every field changes what an accuracy means: a study keeps one."""

    name: str = "custom"
    epochs: int = 3  # passes over the proxy training subset
    resolution: int = 32  # px; candidates are built at the smallest size >= this they accept
    train_images: int = 2000  # class-balanced, drawn from the training split
    val_images: int = 1000  # held out from the training split, disjoint from train_images
    batch_size: int = 64  # images per optimiser step
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 0.05  # AdamW decoupled weight decay (not on norms and biases)
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to 0 (per step)
    label_smoothing: float = 0.1
    flip: bool = True  # random horizontal flips of training batches
    eval_batch_size: int = 500  # images per validation forward pass

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "resolution",
            "train_images",
            "val_images",
            "batch_size",
            "eval_batch_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"expected an integer >= 1, got {value!r}", field=f"proxy.{name}"
                )
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"expected a number >= 0, got {value!r} (in YAML, write "
                    f"2.0e-3 rather than 2e-3)",
                    field=f"proxy.{name}",
                )
        if not self.lr > 0 or self.label_smoothing >= 1:
            raise ConfigError(
                "`lr > 0` and `label_smoothing < 1` must hold, but got "
                f"lr={self.lr}, label_smoothing={self.label_smoothing}",
                field="proxy",
            )

    def replace(self, **changes: object) -> ProxyConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_images / self.batch_size)


PROXY_PRESETS: dict[str, ProxyConfig] = {
    # The CPU default: sized so that the README's main command (about 20 trained candidates of
    # the hybrid space at 4 GFLOPs) finishes within ~15 minutes on 2 cores.
    "cpu": ProxyConfig(
        "cpu", epochs=3, resolution=32, train_images=2000, val_images=1000, batch_size=64, lr=2e-3
    ),
    # The GPU default: most of Fashion-MNIST's training split, at twice the side.
    "gpu": ProxyConfig(
        "gpu",
        epochs=8,
        resolution=64,
        train_images=50_000,
        val_images=10_000,
        batch_size=256,
        lr=2e-3,
        eval_batch_size=2000,
    ),
    # Seconds per candidate: smoke tests and trying out a space.
    "tiny": ProxyConfig(
        "tiny",
        epochs=2,
        resolution=32,
        train_images=256,
        val_images=128,
        batch_size=32,
        lr=2e-3,
        warmup_epochs=0.0,
        eval_batch_size=128,
    ),
}


def get_proxy(name_or_config: str | ProxyConfig | None, *, device: torch.device) -> ProxyConfig:
    """A preset by name, or a YAML file of ProxyConfig fields (unset ones: the `cpu` preset's);
    None or `auto` picks `gpu` on a GPU and `cpu` elsewhere."""
    if isinstance(name_or_config, ProxyConfig):
        return name_or_config
    if name_or_config in (None, "", "auto"):
        name_or_config = "gpu" if device.type == "cuda" else "cpu"
    if str(name_or_config).endswith((".yaml", ".yml")):
        return load_proxy(name_or_config)
    if name_or_config not in PROXY_PRESETS:
        raise ConfigError(
            f"unknown proxy preset {name_or_config!r}; expected one of "
            f"{', '.join(PROXY_PRESETS)} or a .yaml file",
            field="--proxy",
        )
    return PROXY_PRESETS[name_or_config]


def load_proxy(path: str | os.PathLike) -> ProxyConfig:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of proxy fields", source=str(path))
    fields = [f.name for f in dataclasses.fields(ProxyConfig)]
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"unknown field; expected one of {', '.join(fields)}",
                field=str(key),
                source=str(path),
            )
    data.setdefault("name", Path(path).stem)
    try:
        return PROXY_PRESETS["cpu"].replace(**data)
    except ConfigError as e:
        raise e.within(source=str(path)) from None
