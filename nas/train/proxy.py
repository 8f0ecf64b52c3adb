"""Proxy training: a short, reduced-fidelity run that ranks candidates during a search.

One hyperparameter dataclass (`ProxyConfig`), named presets of it (`PROXY_PRESETS`), and one
loop (`proxy_train`). The candidate is built at the proxy resolution (the smallest size at or
above `resolution` that the architecture accepts) with the data set's classes; on GPU it runs
under bf16 autocast in channels_last with the whole subset resident on the device.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler

from nas.models import NasNet
from nas.space import ArchSpec, ConfigError
from nas.space.io import read_yaml

from .device import autocast, memory_format
from .proxy_data import ProxyData


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
        for name in ("epochs", "resolution", "train_images", "val_images", "batch_size",
                     "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"expected an integer >= 1, got {value!r}",
                                  field=f"proxy.{name}")
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"expected a number >= 0, got {value!r} (in YAML, write "
                                  f"2.0e-3 rather than 2e-3)", field=f"proxy.{name}")
        if not self.lr > 0 or self.label_smoothing >= 1:
            raise ConfigError("`lr > 0` and `label_smoothing < 1` must hold, but got "
                              f"lr={self.lr}, label_smoothing={self.label_smoothing}",
                              field="proxy")

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
    "cpu": ProxyConfig("cpu", epochs=3, resolution=32, train_images=2000, val_images=1000,
                       batch_size=64, lr=2e-3),
    # The GPU default: most of Fashion-MNIST's training split, at twice the side.
    "gpu": ProxyConfig("gpu", epochs=8, resolution=64, train_images=50_000, val_images=10_000,
                       batch_size=256, lr=2e-3, eval_batch_size=2000),
    # Seconds per candidate: smoke tests and trying out a space.
    "tiny": ProxyConfig("tiny", epochs=2, resolution=32, train_images=256, val_images=128,
                        batch_size=32, lr=2e-3, warmup_epochs=0.0, eval_batch_size=128),
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
        raise ConfigError(f"unknown proxy preset {name_or_config!r}; expected one of "
                          f"{', '.join(PROXY_PRESETS)} or a .yaml file", field="--proxy")
    return PROXY_PRESETS[name_or_config]


def load_proxy(path: str | os.PathLike) -> ProxyConfig:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of proxy fields", source=str(path))
    fields = [f.name for f in dataclasses.fields(ProxyConfig)]
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown field; expected one of {', '.join(fields)}",
                              field=str(key), source=str(path))
    data.setdefault("name", Path(path).stem)
    try:
        return PROXY_PRESETS["cpu"].replace(**data)
    except ConfigError as e:
        raise e.within(source=str(path)) from None


class TrainingDiverged(RuntimeError):
    """The loss went NaN or infinite."""


@dataclass
class ProxyResult:
    accuracy: float  # top-1 on the proxy validation images after the last epoch run
    curve: list[float] = field(default_factory=list)  # accuracy after each epoch
    seconds: float = 0.0  # wall time of training + validation
    images_per_s: float = 0.0  # training throughput
    resolution: int = 0  # px the candidate was built and trained at
    stopped: bool = False  # ended early by `on_epoch`

    @property
    def epochs(self) -> int:
        return len(self.curve)


EpochHook = Callable[[int, float], bool]  # (epochs done, accuracy) -> stop now?


def proxy_resolution(spec: ArchSpec, near: int, *, limit: int = 8) -> int:
    """The smallest side >= `near` that `spec` accepts: a multiple of its total stride at which
    every stage is still valid (a token-mixing MLP needs at least one hidden token, say)."""
    step = spec.total_stride()
    size = spec.fit_resolution(near)
    for _ in range(limit):
        try:
            spec.replace(resolution=size)
            return size
        except ConfigError:
            size += step
    raise ConfigError(f"no resolution between {near} and {size} px fits {spec.summary()}")


def build_proxy_model(spec: ArchSpec, *, cfg: ProxyConfig, data: ProxyData) -> NasNet:
    size = proxy_resolution(spec, cfg.resolution)
    return NasNet(spec.replace(resolution=size, num_classes=data.num_classes))


def proxy_train(model: NasNet, data: ProxyData, cfg: ProxyConfig, *,
                on_epoch: EpochHook | None = None, seed: int = 0) -> ProxyResult:
    """Train `model` (built by `build_proxy_model`) for `cfg.epochs` and validate each epoch.

    `on_epoch(epochs_done, accuracy)` returning True stops the run (early stopping).
    Raises TrainingDiverged when the loss stops being finite.
    """
    device = data.device
    fmt = memory_format(device)
    model = model.to(device=device, memory_format=fmt)
    res, chans = model.spec.resolution, model.spec.in_chans
    opt = create_optimizer_v2(model, opt="adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * cfg.steps_per_epoch
    warmup = min(total - 1, round(cfg.warmup_epochs * cfg.steps_per_epoch))
    sched = CosineLRScheduler(opt, t_initial=max(1, total - warmup), warmup_t=warmup,
                              warmup_prefix=True, warmup_lr_init=cfg.lr * 1e-3,
                              t_in_epochs=False)
    gen = torch.Generator(device=device).manual_seed(seed)
    result = ProxyResult(accuracy=0.0, resolution=res)
    start, train_time, step = time.perf_counter(), 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(len(data.train_y), device=device, generator=gen)
        for idx in order[:cfg.steps_per_epoch * cfg.batch_size].split(cfg.batch_size):
            x = data.prepare(data.train_x[idx], resolution=res, in_chans=chans,
                             memory_format=fmt)
            if cfg.flip:
                x = torch.where(torch.rand(len(x), 1, 1, 1, device=device, generator=gen) < 0.5,
                                x.flip(-1), x)
            with autocast(device):
                loss = F.cross_entropy(model(x), data.train_y[idx],
                                       label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            sched.step_update(step)
            loss_sum += loss.detach()
        mean_loss = loss_sum.item() / cfg.steps_per_epoch  # one sync per epoch
        train_time += time.perf_counter() - t0
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(f"loss became {mean_loss} in epoch {epoch}")
        result.curve.append(evaluate(model, data, batch_size=cfg.eval_batch_size))
        result.accuracy = result.curve[-1]
        if on_epoch is not None and on_epoch(epoch, result.accuracy) and epoch < cfg.epochs:
            result.stopped = True
            break
    result.seconds = time.perf_counter() - start
    result.images_per_s = len(result.curve) * len(data.train_y) / max(train_time, 1e-9)
    return result


@torch.no_grad()
def evaluate(model: NasNet, data: ProxyData, *, batch_size: int) -> float:
    """Top-1 accuracy on the proxy validation images."""
    model.eval()
    fmt = memory_format(data.device)
    res, chans = model.spec.resolution, model.spec.in_chans
    correct = torch.zeros((), dtype=torch.long, device=data.device)
    for x, y in zip(data.val_x.split(batch_size), data.val_y.split(batch_size)):
        with autocast(data.device):
            logits = model(data.prepare(x, resolution=res, in_chans=chans, memory_format=fmt))
        correct += (logits.argmax(-1) == y).sum()
    return correct.item() / len(data.val_y)
