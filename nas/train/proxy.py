"""Proxy training: a short, reduced-fidelity run that ranks candidates during a search.

The hyperparameters (`ProxyConfig`) and their presets (`PROXY_PRESETS`) are in
`nas.train.proxy_config`; here is the one loop (`proxy_train`). The candidate is built at the
proxy resolution (the smallest size at or above `resolution` that the architecture accepts)
with the data set's classes; on GPU it runs under bf16 autocast in channels_last with the
whole subset resident on the device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler

from nas.models import NasNet
from nas.space import ArchSpec, ConfigError

from .device import autocast, memory_format
from .proxy_config import ProxyConfig
from .proxy_data import ProxyData


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


def proxy_train(
    model: NasNet,
    data: ProxyData,
    cfg: ProxyConfig,
    *,
    on_epoch: EpochHook | None = None,
    seed: int = 0,
) -> ProxyResult:
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
    sched = CosineLRScheduler(
        opt,
        t_initial=max(1, total - warmup),
        warmup_t=warmup,
        warmup_prefix=True,
        warmup_lr_init=cfg.lr * 1e-3,
        t_in_epochs=False,
    )
    gen = torch.Generator(device=device).manual_seed(seed)
    result = ProxyResult(accuracy=0.0, resolution=res)
    start, train_time, step = time.perf_counter(), 0.0, 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(len(data.train_y), device=device, generator=gen)
        for idx in order[: cfg.steps_per_epoch * cfg.batch_size].split(cfg.batch_size):
            x = data.prepare(data.train_x[idx], resolution=res, in_chans=chans, memory_format=fmt)
            if cfg.flip:
                x = torch.where(
                    torch.rand(len(x), 1, 1, 1, device=device, generator=gen) < 0.5, x.flip(-1), x
                )
            with autocast(device):
                loss = F.cross_entropy(
                    model(x), data.train_y[idx], label_smoothing=cfg.label_smoothing
                )
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
